#pragma once
// Start-up agreement of an mpirun job: every rank must train the same model with the same
// configuration, or averaging mixes different things (or deadlocks on different buffer sizes).
//
// Each rank describes its resolved training settings as "key=value" lines (flags after defaults
// and config file, plus the model's description and the data set's size); ranks compare a 64-bit
// FNV-1a hash of that text with rank 0's. On a mismatch rank 0's text is broadcast, the lowest
// differing rank names the first differing setting, and every rank throws the same
// ConfigurationMismatch (exit 2 on every rank). Per-process settings (data directory, threads,
// devices, prefetch, output files) are left out: they may differ between hosts.
#include <cstdint>
#include <map>
#include <string>

#include "launch/Options.h"
#include "launch/RunSetup.h"
#include "parallel/Communicator.h"
#include "src/core/Errors.h"

namespace cohort::launch {

// Raised on every rank together, so the job can end with MPI_Finalize and exit code 2.
class ConfigurationMismatch : public InputError {
public:
    explicit ConfigurationMismatch(const std::string& message) : InputError(message) {}
};

std::string trainingSettings(const RunOptions& options, const RunSetup& setup);
// The settings text as key -> value (for comparing a checkpoint's with a run's, and for --metrics).
std::map<std::string, std::string> settingsByKey(const std::string& settings);
std::uint64_t settingsHash(const std::string& settings);
// "--lr: rank 1 has 0.02, rank 0 has 0.01" for the first differing line, or "" when equal.
std::string describeFirstDifference(const std::string& rootSettings, const std::string& settings, int rank);
// Collective over `processes`; returns when every rank has the same settings.
void agreeOnSettings(parallel::ProcessGroup& processes, const std::string& settings);

}  // namespace cohort::launch
