#pragma once
// SIGINT and SIGTERM during `cohort train`: the first asks the run to stop at its next sync
// point (the current step finishes, a checkpoint is written when --checkpoint-dir is set, the
// metrics get a final event) and the process exits 130 or 143; a second one exits at once with
// the same code. Installed for the lifetime of a StopOnSignals; the previous handlers return
// after it.
#include <csignal>
#include <string>

namespace cohort::launch {

class StopOnSignals {
public:
    StopOnSignals();
    ~StopOnSignals();
    StopOnSignals(const StopOnSignals&) = delete;
    StopOnSignals& operator=(const StopOnSignals&) = delete;

    static bool requested();   // a signal arrived (safe from any thread)
    static int signal();       // which (0: none)
    static int exitCode();     // 128 + signal
    static std::string name(); // "SIGINT" / "SIGTERM"

private:
    struct sigaction previousInterrupt_ {};
    struct sigaction previousTerminate_ {};
};

}  // namespace cohort::launch
