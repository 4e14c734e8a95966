#include "launch/supervise/JobProcess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace cohort::launch {
namespace {

[[noreturn]] void execChild(const std::vector<std::string>& argv, const std::vector<std::string>& environment, int writeEnd) {
    ::setpgid(0, 0);
    ::dup2(writeEnd, STDERR_FILENO);
    ::close(writeEnd);
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) ::sigaction(sig, &defaults, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const std::string& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    const std::string line = "cohort launch: error: cannot start " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    ::_exit(127);
}

}  // namespace

JobProcess::JobProcess(const std::vector<std::string>& argv, LineHandler onStderrLine,
                       const std::vector<std::string>& environment)
    : onLine_(std::move(onStderrLine)) {
    if (argv.empty()) throw std::invalid_argument("JobProcess: no command");
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error(std::string("cannot make a pipe: ") + std::strerror(errno));
    pid_ = ::fork();
    if (pid_ < 0) {
        ::close(ends[0]);
        ::close(ends[1]);
        throw std::runtime_error(std::string("cannot start ") + argv[0] + ": " + std::strerror(errno));
    }
    if (pid_ == 0) execChild(argv, environment, ends[1]);
    ::setpgid(pid_, pid_);  // (also in the child: whichever runs first)
    ::close(ends[1]);
    stderr_ = ends[0];
}

JobProcess::~JobProcess() {
    if (!exited_ && pid_ > 0) {
        signalGroup(SIGKILL);
        int ignored;
        ::waitpid(pid_, &ignored, 0);
    }
    if (stderr_ >= 0) ::close(stderr_);
}

void JobProcess::readAvailable(int milliseconds) {
    if (stderr_ < 0) {
        if (milliseconds > 0) ::poll(nullptr, 0, milliseconds);
        return;
    }
    pollfd ready{stderr_, POLLIN, 0};
    if (::poll(&ready, 1, milliseconds) <= 0) return;
    char buffer[4096];
    const ssize_t got = ::read(stderr_, buffer, sizeof buffer);
    if (got <= 0) {
        if (got < 0 && errno == EINTR) return;
        ::close(stderr_);
        stderr_ = -1;
        if (!partial_.empty()) onLine_(partial_);
        partial_.clear();
        return;
    }
    partial_.append(buffer, std::size_t(got));
    for (std::size_t end; (end = partial_.find('\n')) != std::string::npos;) {
        const std::string line = partial_.substr(0, end);
        partial_.erase(0, end + 1);
        onLine_(line);
    }
}

bool JobProcess::waitFor(int milliseconds) {
    if (exited_) return true;
    readAvailable(milliseconds);
    int raw = 0;
    const pid_t done = ::waitpid(pid_, &raw, WNOHANG);
    if (done != pid_) return false;
    // What it wrote last; a process it left behind may hold the pipe open: 2 s at most.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (stderr_ >= 0 && std::chrono::steady_clock::now() < deadline) readAvailable(100);
    exited_ = true;
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return true;
}

void JobProcess::signal(int signal) const {
    if (!exited_ && pid_ > 0) ::kill(pid_, signal);
}

void JobProcess::signalGroup(int signal) const {
    if (!exited_ && pid_ > 0) ::kill(-pid_, signal);
}

}  // namespace cohort::launch
