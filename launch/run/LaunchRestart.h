#pragma once
// A training job started again by `cohort launch` after it lost a rank or a host: the supervisor
// says what happened in COHORT_LAUNCH_RESTART (JSON, passed to every rank with mpirun -x), and
// rank 0 records it as the run's "restart" event (docs/METRICS.md) and in one line of its output.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launch/run/Checkpoints.h"

namespace cohort::launch {

struct LaunchRestart {
    int restart = 0;             // 1 for the first restart
    int maxRestarts = 0;
    std::vector<std::string> lostHosts;
    std::string failure;         // the line that reported it
    double failedAt = 0.0;       // seconds since the epoch, when the supervisor saw the failure
    std::int64_t iterationFailed = -1;  // the iteration a rank named in its failure (-1: none)
    std::string hosts;          // the hosts of this attempt, "host1,host2"
};

// The clock `failedAt` is read on (seconds since the Unix epoch): the supervisor dates a failure
// with it, the restarted job measures from it.
double wallClockSeconds();

// The restart this process belongs to; nullopt when not started again by cohort launch (or the
// variable is unreadable: a restart record is never worth failing a job for).
std::optional<LaunchRestart> launchRestartFromEnvironment();

// The "restart" metrics record: the restart, the checkpoint and iteration resumed from, iterations
// done again, seconds from the failure to this job being ready to train, the new layout.
// `resumedEpoch`: the epochs finished before the resumed position (0-based epoch in progress).
std::string restartEvent(const LaunchRestart& restart, const ResumeSource& resumed, std::int64_t resumedIteration,
                         int resumedEpoch, int replicas, int processes);
// The same in one line for the run's output.
std::string restartLine(const LaunchRestart& restart, const ResumeSource& resumed, std::int64_t resumedIteration,
                        int replicas);

}  // namespace cohort::launch
