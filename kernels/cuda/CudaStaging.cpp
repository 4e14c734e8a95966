// The CUDA backend's staging queue (see CudaStaging.cuh).
#include "kernels/cuda/CudaStaging.cuh"

#include <stdexcept>
#include <string>

#include "kernels/cuda/CudaCheck.cuh"

namespace cohort::kernels::cuda_detail {

CudaStaging::CudaStaging(cudaStream_t compute) : compute_(compute) {
    try {
        COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&staging_, cudaStreamNonBlocking));
        for (auto& event : markers_) COHORT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
        for (auto& event : tickets_) COHORT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    } catch (...) {
        release();
        throw;
    }
}

CudaStaging::~CudaStaging() { release(); }

void CudaStaging::release() noexcept {
    if (staging_) reportTeardownFailure(cudaStreamSynchronize(staging_), "cudaStreamSynchronize");
    for (auto& event : markers_) {
        if (event) reportTeardownFailure(cudaEventDestroy(event), "cudaEventDestroy");
        event = nullptr;
    }
    for (auto& event : tickets_) {
        if (event) reportTeardownFailure(cudaEventDestroy(event), "cudaEventDestroy");
        event = nullptr;
    }
    if (staging_) reportTeardownFailure(cudaStreamDestroy(staging_), "cudaStreamDestroy");
    staging_ = nullptr;
}

cudaEvent_t CudaStaging::eventOf(const std::array<cudaEvent_t, kEvents>& ring, std::uint64_t newest,
                                 std::uint64_t token, const char* kind) {
    if (token == 0 || token > newest || newest - token >= kEvents) {
        throw std::logic_error(std::string("staging: ") + kind + " " + std::to_string(token) +
                               " is unknown or was recycled (newest " + std::to_string(newest) + ")");
    }
    return ring[token % kEvents];
}

std::uint64_t CudaStaging::mark() {
    const std::uint64_t marker = ++markerCount_;
    COHORT_CUDA_CHECK(cudaEventRecord(markers_[marker % kEvents], compute_));
    return marker;
}

std::uint64_t CudaStaging::stage(std::size_t bytes, const void* hostSource, void* destination, std::uint64_t after) {
    if (after != 0) {
        COHORT_CUDA_CHECK(cudaStreamWaitEvent(staging_, eventOf(markers_, markerCount_, after, "marker"), 0));
    }
    if (bytes > 0) {
        COHORT_CUDA_CHECK(cudaMemcpyAsync(destination, hostSource, bytes, cudaMemcpyHostToDevice, staging_));
    }
    const std::uint64_t ticket = ++ticketCount_;
    COHORT_CUDA_CHECK(cudaEventRecord(tickets_[ticket % kEvents], staging_));
    return ticket;
}

void CudaStaging::await(std::uint64_t ticket) {
    if (ticket != 0) {
        COHORT_CUDA_CHECK(cudaStreamWaitEvent(compute_, eventOf(tickets_, ticketCount_, ticket, "ticket"), 0));
    }
}

void CudaStaging::hostWait(std::uint64_t ticket) {
    if (ticket != 0) COHORT_CUDA_CHECK(cudaEventSynchronize(eventOf(tickets_, ticketCount_, ticket, "ticket")));
}

}  // namespace cohort::kernels::cuda_detail
