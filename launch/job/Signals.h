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

// While an input that may block is opened and read (a FIFO given as --resume or --load waits in
// open() for a writer), SIGINT or SIGTERM ends the process at once: exit 130 or 143 and the line
// "cohort: SIGINT while waiting for WHAT; stopped". A stop already asked for (a signal during the
// set-up, under StopOnSignals) ends it the same way as the wait begins. Only for inputs that are
// not regular files or folders (`path`); for others nothing changes. The handlers before it
// return after it.
class ExitOnSignalsWhileWaiting {
public:
    ExitOnSignalsWhileWaiting(const std::string& path, const std::string& what);
    ~ExitOnSignalsWhileWaiting();
    ExitOnSignalsWhileWaiting(const ExitOnSignalsWhileWaiting&) = delete;
    ExitOnSignalsWhileWaiting& operator=(const ExitOnSignalsWhileWaiting&) = delete;

private:
    bool active_ = false;
    struct sigaction previousInterrupt_ {};
    struct sigaction previousTerminate_ {};
};

}  // namespace cohort::launch
