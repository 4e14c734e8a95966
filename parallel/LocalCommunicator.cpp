// Shared-memory averaging across the worker threads of one process.
#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "parallel/AbortableBarrier.h"
#include "parallel/Communicator.h"

namespace cohort::parallel {

void Communicator::forEachSlice(int, kernels::Backend&, std::int64_t, SliceWork&) {
    throw std::logic_error(name() + " does not share replica memory: forEachSlice is not available");
}

namespace {

// Worker `worker`'s slice of [0, count) among `workers`, aligned to 16 elements so vector loads
// stay aligned.
std::pair<std::int64_t, std::int64_t> sliceOf(int worker, int workers, std::int64_t count) {
    const std::int64_t per = (count + workers - 1) / workers;
    const std::int64_t chunk = (per + 15) / 16 * 16;
    const std::int64_t begin = std::min(count, chunk * worker);
    return {begin, std::min(count, begin + chunk)};
}

class LocalCommunicator final : public Communicator {
public:
    explicit LocalCommunicator(int workers)
        : workers_(workers), barrier_(workers), buffers_(std::size_t(workers)),
          slices_(std::size_t(workers), std::vector<void*>(std::size_t(workers))) {}

    std::string name() const override { return "local(" + std::to_string(workers_) + " threads)"; }
    int localReplicas() const override { return workers_; }
    int totalReplicas() const override { return workers_; }

    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer,
                 std::int64_t count) override {
        if (workers_ == 1) return;
        buffers_[std::size_t(worker)] = buffer;
        backend.synchronize();  // the buffer's latest values are visible before others read them
        barrier_.arriveAndWait();
        const auto [begin, end] = sliceOf(worker, workers_, count);
        if (end > begin) {
            const std::size_t offset = std::size_t(begin) * kernels::sizeOf(dtype);
            std::vector<void*>& slices = slices_[std::size_t(worker)];
            for (int r = 0; r < workers_; ++r) slices[std::size_t(r)] = static_cast<char*>(buffers_[std::size_t(r)]) + offset;
            averageSliceIntoEveryReplica(backend, dtype, end - begin, slices.data(), workers_, worker);
            backend.synchronize();
        }
        barrier_.arriveAndWait();
    }

    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        if (workers_ == 1) return;
        buffers_[std::size_t(worker)] = buffer;
        backend.synchronize();
        barrier_.arriveAndWait();
        if (worker != 0) backend.copy(bytes, buffers_[0], buffer);
        backend.synchronize();
        barrier_.arriveAndWait();
    }

    bool sharesReplicaMemory() const override { return true; }
    void forEachSlice(int worker, kernels::Backend& backend, std::int64_t count, SliceWork& work) override {
        backend.synchronize();
        if (workers_ > 1) barrier_.arriveAndWait();
        const auto [begin, end] = sliceOf(worker, workers_, count);
        if (end > begin) work.run(worker, backend, begin, end);
        backend.synchronize();
        if (workers_ > 1) barrier_.arriveAndWait();
    }

    bool barrier(int) override { return barrier_.arriveAndWait(); }
    void abort(const std::string& reason) override { barrier_.abort(reason); }

private:
    int workers_;
    AbortableBarrier barrier_;
    std::vector<void*> buffers_;
    // Per-worker slice-pointer scratch, sized once (no allocation per average).
    std::vector<std::vector<void*>> slices_;
};

}  // namespace

std::unique_ptr<Communicator> makeLocalCommunicator(int workers) {
    return std::make_unique<LocalCommunicator>(workers);
}

}  // namespace cohort::parallel
