#include "parallel/mpi/NcclMpiCommunicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "parallel/NcclCheck.h"
#include "parallel/NcclEntry.h"

namespace cohort::parallel {
namespace {

class NcclMpiCommunicator final : public Communicator {
public:
    NcclMpiCommunicator(int workers, int device, std::shared_ptr<MpiProcessGroup> processes)
        : local_(makeLocalCommunicator(workers)), processes_(std::move(processes)), workers_(workers), device_(device) {
        ncclUniqueId id{};
        if (processes_->rank() == 0) COHORT_NCCL_CHECK(ncclGetUniqueId(&id));
        processes_->broadcast(&id, sizeof id, 0);
        COHORT_CUDA_CHECK(cudaSetDevice(device_));
        COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        COHORT_NCCL_CHECK(ncclCommInitRank(&nccl_, processes_->size(), id, processes_->rank()));
    }
    ~NcclMpiCommunicator() override {
        if (nccl_ && failed_) (void)ncclCommAbort(nccl_);
        if (nccl_ && !failed_) (void)ncclCommDestroy(nccl_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    std::string name() const override { return local_->name() + " + nccl over mpi(" + std::to_string(processes_->size()) + " ranks)"; }
    int localReplicas() const override { return workers_; }
    int totalReplicas() const override { return workers_ * processes_->size(); }
    ProcessGroup* processes() const override { return processes_.get(); }

    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer, std::int64_t count) override {
        local_->average(worker, backend, dtype, buffer, count);
        if (worker == 0) {
            crossProcess([&] {
                const ncclDataType_t type = dtype == kernels::DType::Float32 ? ncclFloat32 : ncclFloat64;
                COHORT_NCCL_CHECK(ncclAllReduce(buffer, buffer, std::size_t(count), type, ncclAvg, nccl_, stream_));
            }, backend);
        }
        local_->broadcast(worker, backend, buffer, std::size_t(count) * kernels::sizeOf(dtype));
    }

    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        if (worker == 0) {
            crossProcess([&] { COHORT_NCCL_CHECK(ncclBroadcast(buffer, buffer, bytes, ncclChar, 0, nccl_, stream_)); }, backend);
        }
        local_->broadcast(worker, backend, buffer, bytes);
    }

    bool barrier(int worker) override {
        const bool last = local_->barrier(worker);
        if (worker == 0) processes_->barrier();
        local_->barrier(worker);
        return last;
    }

    void abort(const std::string& reason) override {
        local_->abort(reason);
        processes_->abort(reason);
    }

private:
    // Enqueues `operation` after the worker's pending work and waits for it, bounded in time.
    template <typename Operation>
    void crossProcess(Operation operation, kernels::Backend& backend) {
        try {
            backend.synchronize();
            COHORT_CUDA_CHECK(cudaSetDevice(device_));
            operation();
            const auto deadline = std::chrono::steady_clock::now() +
                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(processes_->timeoutSeconds()));
            for (;;) {
                if (COHORT_CUDA_QUERY_DONE(cudaStreamQuery(stream_))) break;
                ncclResult_t asyncError = ncclSuccess;
                COHORT_NCCL_CHECK(ncclCommGetAsyncError(nccl_, &asyncError));
                COHORT_NCCL_CHECK(asyncError);
                if (processes_->aborted()) throw std::runtime_error("NCCL collective abandoned: the job is aborting");
                if (std::chrono::steady_clock::now() >= deadline) {
                    throw ProcessLostError("lost contact with the other MPI ranks: an NCCL collective did not complete within " +
                                           std::to_string(processes_->timeoutSeconds()) + " s");
                }
                std::this_thread::sleep_for(std::chrono::microseconds(20));
            }
        } catch (const std::exception& error) {
            failed_ = true;
            local_->abort(error.what());
            throw;
        }
    }

    std::unique_ptr<Communicator> local_;
    std::shared_ptr<MpiProcessGroup> processes_;
    int workers_;
    int device_;
    cudaStream_t stream_ = nullptr;
    ncclComm_t nccl_ = nullptr;
    bool failed_ = false;
};

}  // namespace

std::unique_ptr<Communicator> nccl_detail::makeOverMpi(int workers, int device, std::shared_ptr<ProcessGroup> processes) {
    auto mpi = std::dynamic_pointer_cast<MpiProcessGroup>(processes);
    if (!mpi) throw std::logic_error("NCCL over MPI needs an MPI process group");
    return std::make_unique<NcclMpiCommunicator>(workers, device, std::move(mpi));
}

}  // namespace cohort::parallel
