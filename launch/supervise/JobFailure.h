#pragma once
// What a failed job's stderr says: whether a restart can fix it (a rank or a host was lost) and
// which hosts it names, or why not (bad input, divergence). Fed each line as it arrives.
#include <cstdint>
#include <set>
#include <string>

namespace cohort::launch {

class JobFailure {
public:
    // `secondsNow`: when the line arrived (the first line that shows a lost rank dates the failure).
    void see(const std::string& line, double secondsNow);

    bool lostRankOrHost() const { return lost_; }      // a restart can fix it
    bool diverged() const { return diverged_; }        // a NaN or infinite loss: never retried
    const std::set<std::string>& lostHosts() const { return hosts_; }
    double failedAt() const { return failedAt_; }      // 0 when nothing was lost
    std::int64_t iteration() const { return iteration_; }  // the iteration a rank named, -1 if none
    // The first error line of a rank ("cohort[rank 0]: error: ..."), else the first line that showed the loss.
    const std::string& reason() const { return reason_; }

private:
    void lost(double secondsNow, const std::string& line);
    bool lost_ = false, diverged_ = false, awaitingDaemonNode_ = false;
    std::set<std::string> hosts_;
    double failedAt_ = 0.0;
    std::int64_t iteration_ = -1;
    std::string reason_, lostLine_;
};

}  // namespace cohort::launch
