// The in-process NCCL communicator (see parallel/NcclCommunicator.h). Compiled only with NCCL.
#include "parallel/NcclCommunicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "parallel/AbortableBarrier.h"
#include "parallel/NcclCheck.h"
#include "parallel/NcclEntry.h"

namespace cohort::parallel {
namespace {

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(const std::vector<int>& workerDevices, double timeoutSeconds)
        : workers_(int(workerDevices.size())), perDevice_(workersPerDevice(workerDevices)),
          timeoutSeconds_(timeoutSeconds), everyone_(workers_), groupOf_(workerDevices.size()),
          memberOf_(workerDevices.size()) {
        if (!(timeoutSeconds_ > 0.0)) throw std::invalid_argument("the NCCL collective timeout must be > 0 seconds");
        // The layout is settled before any CUDA call.
        for (int w = 0; w < workers_; ++w) {
            const int device = workerDevices[std::size_t(w)];
            std::size_t group = 0;
            while (group < groups_.size() && groups_[group].device != device) ++group;
            if (group == groups_.size()) {
                groups_.emplace_back();
                groups_.back().device = device;
                groups_.back().local = makeLocalCommunicator(perDevice_);
            }
            groupOf_[std::size_t(w)] = int(group);
            memberOf_[std::size_t(w)] = groups_[group].members++;
        }
        leaders_ = std::make_unique<AbortableBarrier>(int(groups_.size()));

        int previous = 0;
        COHORT_CUDA_CHECK(cudaGetDevice(&previous));
        try {
            std::vector<int> devices;
            for (DeviceGroup& group : groups_) {
                COHORT_CUDA_CHECK(cudaSetDevice(group.device));
                COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&group.stream, cudaStreamNonBlocking));
                devices.push_back(group.device);
            }
            std::vector<ncclComm_t> comms(groups_.size(), nullptr);
            COHORT_NCCL_CHECK(ncclCommInitAll(comms.data(), int(comms.size()), devices.data()));
            for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].nccl = comms[g];
        } catch (...) {
            release();
            (void)cudaSetDevice(previous);
            throw;
        }
        (void)cudaSetDevice(previous);  // the constructing thread keeps its device
    }
    ~NcclCommunicator() override { release(); }

    std::string name() const override {
        const std::size_t gpus = groups_.size();
        return "nccl(" + std::to_string(gpus) + (gpus == 1 ? " GPU, " : " GPUs, ") + std::to_string(perDevice_) +
               (perDevice_ == 1 ? " worker each)" : " workers each)");
    }
    int localReplicas() const override { return workers_; }
    int totalReplicas() const override { return workers_; }

    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer, std::int64_t count) override {
        DeviceGroup& group = groups_[std::size_t(groupOf_[std::size_t(worker)])];
        const int member = memberOf_[std::size_t(worker)];
        group.local->average(member, backend, dtype, buffer, count);
        if (member == 0) {
            const ncclDataType_t type = dtype == kernels::DType::Float32 ? ncclFloat32 : ncclFloat64;
            acrossDevices(group, backend, [&] {
                COHORT_NCCL_CHECK(ncclAllReduce(buffer, buffer, std::size_t(count), type, ncclAvg, group.nccl, group.stream));
            });
        }
        group.local->broadcast(member, backend, buffer, std::size_t(count) * kernels::sizeOf(dtype));
    }

    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        DeviceGroup& group = groups_[std::size_t(groupOf_[std::size_t(worker)])];
        const int member = memberOf_[std::size_t(worker)];
        if (member == 0) {
            // Worker 0 leads the first group, which is NCCL rank 0.
            acrossDevices(group, backend, [&] {
                COHORT_NCCL_CHECK(ncclBroadcast(buffer, buffer, bytes, ncclInt8, 0, group.nccl, group.stream));
            });
        }
        group.local->broadcast(member, backend, buffer, bytes);
    }

    bool barrier(int) override { return everyone_.arriveAndWait(); }

    void abort(const std::string& reason) override {
        {
            std::lock_guard<std::mutex> lock(reasonMutex_);
            if (!aborted_) reason_ = reason;
            aborted_ = true;
        }
        everyone_.abort(reason);
        leaders_->abort(reason);
        for (DeviceGroup& group : groups_) group.local->abort(reason);
    }

private:
    struct DeviceGroup {
        int device = 0;
        int members = 0;
        std::unique_ptr<Communicator> local;  // the device's workers, by member index
        cudaStream_t stream = nullptr;
        ncclComm_t nccl = nullptr;            // used only by the leader's thread, then the destructor
    };

    // Run by each device's leader: enqueues `operation` once every leader is ready and waits for
    // it, bounded in time and aware of abort().
    template <typename Operation>
    void acrossDevices(DeviceGroup& group, kernels::Backend& backend, Operation operation) {
        backend.synchronize();  // the buffer's latest values are there before NCCL reads them
        leaders_->arriveAndWait();
        try {
            COHORT_CUDA_CHECK(cudaSetDevice(group.device));
            operation();
            waitFor(group);
        } catch (const BarrierAborted&) {
            abandon(group);
            throw;
        } catch (const std::exception& error) {
            abandon(group);
            abort(error.what());
            throw;
        }
    }

    void waitFor(DeviceGroup& group) {
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(timeoutSeconds_));
        for (;;) {
            if (COHORT_CUDA_QUERY_DONE(cudaStreamQuery(group.stream))) return;
            ncclResult_t asyncError = ncclSuccess;
            COHORT_NCCL_CHECK(ncclCommGetAsyncError(group.nccl, &asyncError));
            COHORT_NCCL_CHECK(asyncError);
            {
                std::lock_guard<std::mutex> lock(reasonMutex_);
                if (aborted_) throw BarrierAborted(reason_);
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                throw std::runtime_error("an NCCL collective across this process's GPUs did not complete within " +
                                         std::to_string(timeoutSeconds_) + " s");
            }
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    }

    // The leader's collective failed or was given up: its kernel may still be waiting for peers,
    // so its NCCL communicator is aborted now (this thread is its only user).
    void abandon(DeviceGroup& group) {
        failed_ = true;
        if (group.nccl) {
            (void)ncclCommAbort(group.nccl);
            group.nccl = nullptr;
        }
    }

    void release() {
        const bool failed = failed_;
        // Each group's communicator and stream belong to its GPU: make it current first, as NCCL's
        // and CUDA's teardown expect with several GPUs in one thread.
        for (DeviceGroup& group : groups_) {
            if (!group.nccl) continue;
            (void)cudaSetDevice(group.device);
            if (failed) (void)ncclCommAbort(group.nccl);
            else (void)ncclCommDestroy(group.nccl);
            group.nccl = nullptr;
        }
        for (DeviceGroup& group : groups_) {
            if (group.stream && cudaSetDevice(group.device) == cudaSuccess) (void)cudaStreamDestroy(group.stream);
            group.stream = nullptr;
        }
    }

    const int workers_;
    const int perDevice_;
    const double timeoutSeconds_;
    AbortableBarrier everyone_;
    std::unique_ptr<AbortableBarrier> leaders_;
    std::vector<DeviceGroup> groups_;  // in order of first appearance: groups_[0] holds worker 0
    std::vector<int> groupOf_;         // per worker: its group
    std::vector<int> memberOf_;        // per worker: its index in the group (0: the leader)
    std::mutex reasonMutex_;
    bool aborted_ = false;
    std::string reason_ = "aborted";
    std::atomic<bool> failed_{false};
};

}  // namespace

namespace nccl_detail {

std::unique_ptr<Communicator> makeInProcess(const std::vector<int>& workerDevices, double timeoutSeconds) {
    return std::make_unique<NcclCommunicator>(workerDevices, timeoutSeconds);
}

namespace {

std::string libraries() {
    int version = 0;
    if (ncclGetVersion(&version) != ncclSuccess) version = 0;
    // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
    return "nccl " + std::to_string(version / 10000) + "." + std::to_string(version % 10000 / 100) + "." +
           std::to_string(version % 100) + " " + memory::fileDefining(reinterpret_cast<const void*>(&ncclGetVersion)) +
           "\n";
}

}  // namespace
}  // namespace nccl_detail

}  // namespace cohort::parallel

extern "C" __attribute__((visibility("default"))) const void* cohort_cuda_nccl_entry() {
    using namespace cohort::parallel::nccl_detail;
#ifdef COHORT_WITH_MPI
    static const NcclEntry entry{cohort::memory::kCudaModuleAbi, &makeInProcess, &makeOverMpi, &libraries};
#else
    static const NcclEntry entry{cohort::memory::kCudaModuleAbi, &makeInProcess, nullptr, &libraries};
#endif
    return &entry;
}
