#include "launch/job/Signals.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>

namespace cohort::launch {
namespace {

std::atomic<int> received{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler may only touch a lock-free atomic");

extern "C" void onStopSignal(int signal) {
    int none = 0;
    if (!received.compare_exchange_strong(none, signal)) {
        // A second signal: the user does not want to wait for the step to finish.
        static const char message[] = "cohort: second signal, exiting at once\n";
        const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
        (void)ignored;
        ::_exit(128 + signal);
    }
}

// `handler` for SIGINT and SIGTERM, keeping the handlers it replaces.
void installHandler(void (*handler)(int), int flags, struct sigaction& previousInterrupt,
                    struct sigaction& previousTerminate) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = flags;
    sigaction(SIGINT, &action, &previousInterrupt);
    sigaction(SIGTERM, &action, &previousTerminate);
}

void restoreHandlers(const struct sigaction& previousInterrupt, const struct sigaction& previousTerminate) {
    sigaction(SIGINT, &previousInterrupt, nullptr);
    sigaction(SIGTERM, &previousTerminate, nullptr);
}

// What the waiting handler writes after the signal's name, formatted before it can run.
char waitingFor[512];
std::atomic<std::size_t> waitingForLength{0};

extern "C" void exitWhileWaiting(int signal) {
    const char* name = signal == SIGINT ? "cohort: SIGINT" : "cohort: SIGTERM";
    ssize_t ignored = ::write(STDERR_FILENO, name, std::strlen(name));
    ignored = ::write(STDERR_FILENO, waitingFor, waitingForLength.load());
    (void)ignored;
    ::_exit(128 + signal);
}

}  // namespace

ExitOnSignalsWhileWaiting::ExitOnSignalsWhileWaiting(const std::string& path, const std::string& what) {
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (error || std::filesystem::is_regular_file(status) || std::filesystem::is_directory(status)) return;
    const std::string text = " while waiting for " + what + "; stopped\n";
    const std::size_t length = std::min(text.size(), sizeof waitingFor);
    std::memcpy(waitingFor, text.data(), length);
    waitingForLength.store(length);
    installHandler(exitWhileWaiting, 0, previousInterrupt_, previousTerminate_);  // nothing to restart: it exits
    active_ = true;
    // A signal that came before the wait (during the set-up, taken as a stop request) would
    // otherwise be spent: the wait would then need a second one.
    if (const int early = received.load(); early != 0) exitWhileWaiting(early);
}

ExitOnSignalsWhileWaiting::~ExitOnSignalsWhileWaiting() {
    if (active_) restoreHandlers(previousInterrupt_, previousTerminate_);
}

StopOnSignals::StopOnSignals() {
    received.store(0);
    installHandler(onStopSignal, SA_RESTART, previousInterrupt_, previousTerminate_);
}

StopOnSignals::~StopOnSignals() { restoreHandlers(previousInterrupt_, previousTerminate_); }

bool StopOnSignals::requested() { return received.load(std::memory_order_relaxed) != 0; }
int StopOnSignals::signal() { return received.load(std::memory_order_relaxed); }
int StopOnSignals::exitCode() { return 128 + signal(); }
std::string StopOnSignals::name() {
    switch (signal()) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        case 0: return "";
    }
    return "signal " + std::to_string(signal());
}

}  // namespace cohort::launch
