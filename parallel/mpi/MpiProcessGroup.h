#pragma once
// MpiProcessGroup: the processes (ranks) of an mpirun job as a ProcessGroup, on host buffers.
//
// No call can hang. The group works on its own duplicate of the communicator with
// MPI_ERRORS_RETURN (so an MPI failure is an MpiError, not a silent abort); every operation is
// nonblocking (MPI_Iallreduce, MPI_Ibcast, point-to-point barrier tokens) and is polled with
// MPI_Test* until it completes, its deadline passes (ProcessLostError) or abort() was called
// (BarrierAborted). barrier() gathers one token per rank at rank 0 and releases them, so a
// timed-out root names the ranks that never arrived ("lost rank 3 on host2"); the other ranks
// wait a little longer than the root, so the root's diagnosis normally wins. A collective that
// times out is followed by a short roll call: every rank that is still reachable sends rank 0 a
// token, and rank 0 names the ranks (and hosts) it did not hear from. Each rank's host name is
// gathered when the group is made.
//
// Threads: one thread at a time calls the collectives (MPI_THREAD_SERIALIZED is enough); abort()
// may be called from any thread and only raises a flag — taking the job down (MPI_Abort) is the
// launcher's job, after it has printed the error.
#include <mpi.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/Communicator.h"
#include "src/core/Errors.h"

namespace cohort::parallel {

// A peer rank did not answer within the deadline (it died, hangs, or is far slower). The message
// names the group's {timeoutSeconds} as the setting to raise when peers are only slow.
class ProcessLostError : public std::runtime_error, public SettingsMessage {
public:
    explicit ProcessLostError(const std::string& pattern)
        : std::runtime_error(withFieldNames(pattern)), SettingsMessage(pattern) {}
};

class MpiProcessGroup final : public ProcessGroup {
public:
    // Duplicates `communicator`; `timeoutSeconds` (> 0) bounds every wait.
    MpiProcessGroup(MPI_Comm communicator, double timeoutSeconds, std::string label = "mpi");
    ~MpiProcessGroup() override;
    MpiProcessGroup(const MpiProcessGroup&) = delete;
    MpiProcessGroup& operator=(const MpiProcessGroup&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string name() const override;
    void allreduceSum(kernels::DType dtype, void* buffer, std::int64_t count) override;
    void broadcast(void* buffer, std::size_t bytes, int root) override;
    void barrier() override;
    void abort(const std::string& reason) override;
    std::string hostOf(int rank) const override;

    bool aborted() const { return aborted_.load(); }
    double timeoutSeconds() const { return timeoutSeconds_; }
    MPI_Comm communicator() const { return communicator_; }

private:
    // Polls until every request is complete; returns false when the deadline passed first
    // (unfinished requests are left non-null). Throws BarrierAborted after abort().
    bool waitAll(MPI_Request* requests, int count, double timeoutSeconds);
    // After a timed-out collective: the roll call, then ProcessLostError naming who is missing.
    [[noreturn]] void throwTimeout(const std::string& operation);
    // Rank 0: the ranks that sent no roll-call token within `seconds` ("" when all did).
    std::string rollCall(double seconds);

    MPI_Comm communicator_ = MPI_COMM_NULL;
    int rank_ = 0;
    int size_ = 1;
    double timeoutSeconds_;
    std::string label_;
    std::vector<std::string> hosts_;  // by rank
    std::atomic<bool> aborted_{false};
    mutable std::mutex reasonMutex_;
    std::string reason_;
};

}  // namespace cohort::parallel
