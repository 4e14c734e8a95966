#pragma once
// Start-up agreement of an mpirun job: every rank must train the same model with the same
// configuration, or averaging mixes different things (or deadlocks on different buffer sizes).
//
// Each rank describes its resolved training settings (launch/run/RunSettings); ranks compare a
// 64-bit FNV-1a hash of that text with rank 0's. On a mismatch rank 0's text is broadcast, the lowest
// differing rank names the first differing setting, and every rank throws the same
// ConfigurationMismatch (exit 2 on every rank). Per-process settings (data directory, threads,
// devices, prefetch, output files) are left out: they may differ between hosts.
#include <stdexcept>
#include <string>

#include "parallel/Communicator.h"
#include "src/core/Errors.h"

namespace cohort::launch {

// Raised on every rank together, so the job can end with MPI_Finalize (not MPI_Abort) and the
// same exit code everywhere: 2 for bad input, 1 otherwise.
class AgreedFailure : public std::runtime_error {
public:
    AgreedFailure(const std::string& message, int exitCode) : std::runtime_error(message), exitCode_(exitCode) {}
    int exitCode() const { return exitCode_; }

private:
    int exitCode_;
};

class ConfigurationMismatch : public AgreedFailure {
public:
    explicit ConfigurationMismatch(const std::string& message) : AgreedFailure(message, 2) {}
};

// Collective over `processes`, before the settings are compared: each rank says whether its own
// set-up (flags, data files, budgets) succeeded. When one failed, every rank throws the same
// AgreedFailure naming the first failed rank, its host and its error ("rank 1 on host2: cannot
// open ..."), with exit code 2 when that error was bad input, else 1. `error` is "" on success.
void agreeOnStartup(parallel::ProcessGroup& processes, const std::string& error, bool inputError);
// Collective over `processes`; returns when every rank has the same settings.
void agreeOnSettings(parallel::ProcessGroup& processes, const std::string& settings);

}  // namespace cohort::launch
