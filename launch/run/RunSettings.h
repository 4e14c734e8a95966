#pragma once
// A run's resolved training settings as "key=value" lines (flags after defaults and config file,
// plus the model's description and the data set's size): what ranks of an mpirun job must agree on
// (launch/job/ConfigurationAgreement) and what a checkpoint must match to be resumed
// (launch/run/Checkpoints). Per-process settings (data directory, threads, devices, prefetch,
// output files) are left out: they may differ between hosts.
#include <cstdint>
#include <map>
#include <string>

#include "launch/options/Options.h"
#include "launch/run/RunSetup.h"

namespace cohort::launch {

std::string trainingSettings(const RunOptions& options, const RunSetup& setup);
// The settings text as key -> value (for comparing a checkpoint's with a run's, and for --metrics).
std::map<std::string, std::string> settingsByKey(const std::string& settings);
std::uint64_t settingsHash(const std::string& settings);
// "--lr: rank 1 has 0.02, rank 0 has 0.01" for the first differing line, or "" when equal.
std::string describeFirstDifference(const std::string& rootSettings, const std::string& settings, int rank);

}  // namespace cohort::launch
