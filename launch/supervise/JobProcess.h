#pragma once
// A child process whose stderr is read line by line as it comes (each line handed to a callback),
// in a process group of its own so that a terminal's Ctrl-C reaches only the supervisor, which
// decides what the child gets.
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cohort::launch {

class JobProcess {
public:
    using LineHandler = std::function<void(const std::string& line)>;
    // Starts argv[0] (searched on PATH) with `environment` added to this process's. Throws
    // std::runtime_error when it cannot be started.
    JobProcess(const std::vector<std::string>& argv, LineHandler onStderrLine,
               const std::vector<std::string>& environment = {});
    ~JobProcess();  // a child still running is killed (its group) and reaped
    JobProcess(const JobProcess&) = delete;
    JobProcess& operator=(const JobProcess&) = delete;

    // Reads stderr for up to `milliseconds`; true once the child has exited (and stderr is drained).
    bool waitFor(int milliseconds);
    void signal(int signal) const;       // to the child
    void signalGroup(int signal) const;  // to its whole process group
    // The exit status as a shell reports it: the code, or 128 + the signal that ended it.
    int status() const { return status_; }
    pid_t pid() const { return pid_; }

private:
    void readAvailable(int milliseconds);
    pid_t pid_ = -1;
    int stderr_ = -1;
    LineHandler onLine_;
    std::string partial_;
    bool exited_ = false;
    int status_ = -1;
};

}  // namespace cohort::launch
