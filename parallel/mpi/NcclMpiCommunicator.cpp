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

// A collective's call on a non-blocking communicator: ncclInProgress means "being enqueued".
void enqueued(ncclResult_t result) {
    if (result != ncclInProgress) COHORT_NCCL_CHECK(result);
}

class NcclMpiCommunicator final : public Communicator {
public:
    NcclMpiCommunicator(int workers, int device, std::shared_ptr<MpiProcessGroup> processes)
        : local_(makeLocalCommunicator(workers)), processes_(std::move(processes)), workers_(workers), device_(device) {
        ncclUniqueId id{};
        if (processes_->rank() == 0) COHORT_NCCL_CHECK(ncclGetUniqueId(&id));
        processes_->broadcast(&id, sizeof id, 0);
        COHORT_CUDA_CHECK(cudaSetDevice(device_));
        COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        try {
            initialize(id);
        } catch (...) {
            failed_ = true;  // a communicator that did not finish initialising is aborted, not destroyed
            release();       // the destructor does not run for a constructor that throws
            throw;
        }
    }
    ~NcclMpiCommunicator() override { release(); }

    std::string name() const override { return local_->name() + " + nccl over mpi(" + std::to_string(processes_->size()) + " ranks)"; }
    int localReplicas() const override { return workers_; }
    int totalReplicas() const override { return workers_ * processes_->size(); }
    ProcessGroup* processes() const override { return processes_.get(); }

    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer, std::int64_t count) override {
        local_->average(worker, backend, dtype, buffer, count);
        if (worker == 0) {
            crossProcess([&] {
                const ncclDataType_t type = dtype == kernels::DType::Float32 ? ncclFloat32 : ncclFloat64;
                enqueued(ncclAllReduce(buffer, buffer, std::size_t(count), type, ncclAvg, nccl_, stream_));
            }, backend);
        }
        local_->broadcast(worker, backend, buffer, std::size_t(count) * kernels::sizeOf(dtype));
    }

    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        if (worker == 0) {
            crossProcess([&] { enqueued(ncclBroadcast(buffer, buffer, bytes, ncclChar, 0, nccl_, stream_)); }, backend);
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
    // A non-blocking communicator (every call returns at once; ncclCommGetAsyncError says when it is
    // done), so that an initialisation a lost rank never joins ends within the job's timeout with
    // ncclCommAbort instead of blocking in ncclCommInitRank for ever.
    void initialize(const ncclUniqueId& id) {
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = 0;
        const ncclResult_t started = ncclCommInitRankConfig(&nccl_, processes_->size(), id, processes_->rank(), &config);
        if (started != ncclInProgress) COHORT_NCCL_CHECK(started);
        awaitNccl("initialising NCCL across the MPI ranks");
    }

    // Polls the communicator until its last call has finished (not ncclInProgress), bounded by the
    // job's timeout; throws on an NCCL error, an aborting job or the deadline.
    void awaitNccl(const char* what) {
        const auto deadline = deadlineFromNow();
        for (;;) {
            ncclResult_t state = ncclSuccess;
            COHORT_NCCL_CHECK(ncclCommGetAsyncError(nccl_, &state));
            if (state != ncclInProgress) {
                COHORT_NCCL_CHECK(state);
                return;
            }
            waitABit(deadline, what);
        }
    }

    std::chrono::steady_clock::time_point deadlineFromNow() const {
        return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                      std::chrono::duration<double>(processes_->timeoutSeconds()));
    }

    void waitABit(std::chrono::steady_clock::time_point deadline, const char* what) const {
        if (processes_->aborted()) throw std::runtime_error(std::string(what) + " abandoned: the job is aborting");
        if (std::chrono::steady_clock::now() >= deadline) {
            throw ProcessLostError("lost contact with the other MPI ranks: " + std::string(what) + " did not complete within " +
                                   std::to_string(processes_->timeoutSeconds()) + " s");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }

    // After a failure the communicator is aborted at once, not at destruction: a collective kernel
    // still spinning on the GPU for a peer that is gone would otherwise hang whatever synchronises
    // the device next (the worker's teardown among them).
    void release() {
        if (nccl_) {
            if (failed_) (void)ncclCommAbort(nccl_);
            else (void)ncclCommDestroy(nccl_);
            nccl_ = nullptr;
        }
        if (stream_) (void)cudaStreamDestroy(stream_);
        stream_ = nullptr;
    }

    // Enqueues `operation` after the worker's pending work and waits for it, bounded in time.
    template <typename Operation>
    void crossProcess(Operation operation, kernels::Backend& backend) {
        try {
            backend.synchronize();
            COHORT_CUDA_CHECK(cudaSetDevice(device_));
            operation();
            awaitNccl("an NCCL collective");  // enqueued (the communicator is non-blocking)
            const auto deadline = deadlineFromNow();
            while (!COHORT_CUDA_QUERY_DONE(cudaStreamQuery(stream_))) {
                ncclResult_t asyncError = ncclSuccess;
                COHORT_NCCL_CHECK(ncclCommGetAsyncError(nccl_, &asyncError));
                COHORT_NCCL_CHECK(asyncError);
                waitABit(deadline, "an NCCL collective");
            }
        } catch (const std::exception& error) {
            failed_ = true;
            if (nccl_) {
                (void)ncclCommAbort(nccl_);  // releases a kernel still waiting for a lost peer
                nccl_ = nullptr;
            }
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
