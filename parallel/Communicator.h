#pragma once
// Communicator: the collectives a coordinator needs across the replicas of one job.
//
// Every worker thread of this process calls each collective with its own buffer (same length and
// type on every replica). average() returns when every replica's buffer holds the mean over all
// replicas of the job — the local ones and, for a hierarchical communicator, those of other
// processes. After it, all replicas hold bitwise-identical values. abort() makes every pending
// and future call throw BarrierAborted, so one failed worker never leaves the others waiting.
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/Backend.h"

namespace cohort::parallel {

class ProcessGroup;

// Work over a slice [begin, end) of a flat index range, run by one worker on behalf of all local
// replicas (see Communicator::forEachSlice).
class SliceWork {
public:
    virtual ~SliceWork() = default;
    virtual void run(int localWorker, kernels::Backend& backend, std::int64_t begin, std::int64_t end) = 0;
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::string name() const = 0;
    virtual int localReplicas() const = 0;
    virtual int totalReplicas() const = 0;

    // In-place mean over all replicas. `backend` is the calling worker's (its buffer's location).
    virtual void average(int localWorker, kernels::Backend& backend, kernels::DType dtype, void* buffer,
                         std::int64_t count) = 0;
    // Copies global replica 0's bytes into every replica's buffer.
    virtual void broadcast(int localWorker, kernels::Backend& backend, void* buffer, std::size_t bytes) = 0;
    // All replicas meet; returns true on exactly one local worker per call.
    virtual bool barrier(int localWorker) = 0;

    // True when every replica of the job lives in this process and any worker's backend can
    // reach every replica's buffers (CPU threads, or workers sharing one GPU). Then
    // forEachSlice() may be used: all local workers meet (each having synchronised its
    // backend), each runs `work` on its own slice of [0, count) (sliced as average() slices),
    // and all meet again. The coordinator uses it to fuse the optimizer update of an averaging
    // step with the averaging itself, so the buffers are streamed through memory once.
    virtual bool sharesReplicaMemory() const { return false; }
    virtual void forEachSlice(int localWorker, kernels::Backend& backend, std::int64_t count, SliceWork& work);
    virtual void abort(const std::string& reason) = 0;
    // The processes this communicator spans beyond this one (nullptr: this process only). The
    // coordinator's worker 0 uses it to sum epoch statistics over the job.
    virtual ProcessGroup* processes() const { return nullptr; }
};

// The processes of a job (MPI ranks); host buffers only. Implemented over MPI in
// parallel/mpi/, and trivially for a single process.
class ProcessGroup {
public:
    virtual ~ProcessGroup() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    virtual std::string name() const = 0;
    // Element-wise sum across processes, in place (host memory).
    virtual void allreduceSum(kernels::DType dtype, void* buffer, std::int64_t count) = 0;
    virtual void broadcast(void* buffer, std::size_t bytes, int root) = 0;
    virtual void barrier() = 0;
    virtual void abort(const std::string& reason) = 0;
    // The host a rank runs on, for messages ("" when unknown).
    virtual std::string hostOf(int rank) const {
        (void)rank;
        return "";
    }
    // "rank 1 on host2", or "rank 1" when the host is unknown.
    std::string describeRank(int rank) const {
        const std::string host = hostOf(rank);
        return "rank " + std::to_string(rank) + (host.empty() ? "" : " on " + host);
    }
};

// Threads of one process sharing memory: workers on the CPU, or workers sharing one GPU (the
// backend's average() runs there). Each worker reduces one slice of the buffers into every
// replica, so the work is split across the workers and the result is identical everywhere.
std::unique_ptr<Communicator> makeLocalCommunicator(int workers);

// The step every in-memory averaging shares (the local communicator, the fused update-and-
// average): `slices[r]` is replica r's copy of one slice of `count` elements; their mean is
// computed into slices[self] (sources summed in replica order) and copied into the others;
// `onMean()` runs on the mean in slices[self] before it is copied (the outer step). A template,
// so the per-block callback costs no allocation.
template <typename OnMean>
void averageSliceIntoEveryReplica(kernels::Backend& backend, kernels::DType dtype, std::int64_t count,
                                  void* const* slices, int replicas, int self, OnMean&& onMean) {
    void* target = slices[self];
    backend.average(dtype, count, slices, replicas, target);
    onMean();
    const std::size_t bytes = std::size_t(count) * kernels::sizeOf(dtype);
    for (int r = 0; r < replicas; ++r) {
        if (r != self) backend.copy(bytes, target, slices[r]);
    }
}

inline void averageSliceIntoEveryReplica(kernels::Backend& backend, kernels::DType dtype, std::int64_t count,
                                         void* const* slices, int replicas, int self) {
    averageSliceIntoEveryReplica(backend, dtype, count, slices, replicas, self, [] {});
}

// Local averaging first, then across processes through `processes` (host-staged), then a local
// broadcast. Requires the same number of workers on every process.
std::unique_ptr<Communicator> makeHierarchicalCommunicator(int workers, std::shared_ptr<ProcessGroup> processes);

}  // namespace cohort::parallel
