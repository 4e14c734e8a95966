#pragma once
// cohort launch: a `cohort train` job run with Open MPI's mpirun and kept going. When the job fails
// because a rank or a host was lost, the supervisor finds the hosts still usable (the discovery
// command's answer, else the current hosts minus those the failure named; each probed) and starts
// the job again from the newest intact checkpoint in its --checkpoint-dir, on however many
// replicas those hosts give (a checkpoint resumes on another replica count). Failures a restart
// cannot fix (bad input, divergence, a refused resume) end it at once with the job's exit code;
// so do --max-restarts used up and fewer than --min-hosts left (exit 1). SIGINT/SIGTERM stop
// the job as they stop `cohort train` (checkpoint, 130/143) and are never followed by a restart.
#include <string>
#include <vector>

namespace cohort::launch {

struct LaunchOptions {
    std::string hostfile;
    int slots = 0;                 // ranks per host; 0: the hostfile's (or the discovery answer's)
    int maxRestarts = 3;
    int minHosts = 1;
    std::string hostDiscovery;     // a shell command: one host (name or name:slots) a line
    std::vector<std::string> mpirunArguments;
    double probeSeconds = 5.0;     // a host that has not started a probe process by then is unusable
    double graceSeconds = 2.0;     // after a lost rank is reported, how long mpirun gets to end by itself
    std::vector<std::string> trainArguments;  // "train" and its flags
};

// The supervised job's exit status.
int superviseJob(const LaunchOptions& options);

// The flags of `cohort train` the supervisor reads and rewrites (tested on their own).
std::string trainFlag(const std::vector<std::string>& arguments, const std::string& flag);  // "" when absent
// `arguments` with every `flag VALUE` / `flag=VALUE` removed.
std::vector<std::string> withoutTrainFlag(const std::vector<std::string>& arguments, const std::string& flag);

}  // namespace cohort::launch
