// Averaging inside the process first, then across processes (host-staged), then a local
// broadcast: the job's mean over processes x workers replicas.
#include <vector>

#include "parallel/AbortableBarrier.h"
#include "parallel/Communicator.h"

namespace cohort::parallel {
namespace {

class HierarchicalCommunicator final : public Communicator {
public:
    HierarchicalCommunicator(int workers, std::shared_ptr<ProcessGroup> processes)
        : local_(makeLocalCommunicator(workers)), processes_(std::move(processes)), workers_(workers) {}

    std::string name() const override { return local_->name() + " + " + processes_->name(); }
    int localReplicas() const override { return workers_; }
    int totalReplicas() const override { return workers_ * processes_->size(); }
    ProcessGroup* processes() const override { return processes_.get(); }

    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer,
                 std::int64_t count) override {
        local_->average(worker, backend, dtype, buffer, count);
        if (processes_->size() > 1) {
            // Worker 0 carries the process's mean across processes; the others wait for it.
            if (worker == 0) {
                try {
                    const std::size_t bytes = std::size_t(count) * kernels::sizeOf(dtype);
                    const bool onDevice = backend.location().isDevice();
                    if (onDevice) {
                        staging_.resize(bytes);
                        backend.copyToHost(bytes, buffer, staging_.data());
                    }
                    void* host = onDevice ? static_cast<void*>(staging_.data()) : buffer;
                    processes_->allreduceSum(dtype, host, count);
                    // Divide by the process count on the host so every rank computes the same bits.
                    scale(dtype, host, count, 1.0 / double(processes_->size()));
                    if (onDevice) backend.copyFromHost(bytes, staging_.data(), buffer);
                } catch (const std::exception& error) {
                    local_->abort(error.what());
                    throw;
                }
            }
            local_->broadcast(worker, backend, buffer, std::size_t(count) * kernels::sizeOf(dtype));
        }
    }

    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        if (processes_->size() > 1 && worker == 0) {
            const bool onDevice = backend.location().isDevice();
            if (onDevice) {
                staging_.resize(bytes);
                backend.copyToHost(bytes, buffer, staging_.data());
            }
            processes_->broadcast(onDevice ? staging_.data() : buffer, bytes, 0);
            if (onDevice) backend.copyFromHost(bytes, staging_.data(), buffer);
        }
        local_->broadcast(worker, backend, buffer, bytes);
    }

    bool barrier(int worker) override {
        const bool last = local_->barrier(worker);
        if (worker == 0 && processes_->size() > 1) processes_->barrier();
        local_->barrier(worker);
        return last;
    }

    void abort(const std::string& reason) override {
        local_->abort(reason);
        processes_->abort(reason);
    }

private:
    static void scale(kernels::DType dtype, void* buffer, std::int64_t count, double factor) {
        if (dtype == kernels::DType::Float32) {
            auto* values = static_cast<float*>(buffer);
            const auto f = float(factor);
            for (std::int64_t i = 0; i < count; ++i) values[i] *= f;
        } else {
            auto* values = static_cast<double*>(buffer);
            for (std::int64_t i = 0; i < count; ++i) values[i] *= factor;
        }
    }

    std::unique_ptr<Communicator> local_;
    std::shared_ptr<ProcessGroup> processes_;
    int workers_;
    std::vector<char> staging_;
};

}  // namespace

std::unique_ptr<Communicator> makeHierarchicalCommunicator(int workers, std::shared_ptr<ProcessGroup> processes) {
    return std::make_unique<HierarchicalCommunicator>(workers, std::move(processes));
}

}  // namespace cohort::parallel
