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

cudaEvent_t CudaStaging::markerEvent(std::uint64_t marker) const {
    if (marker == 0 || marker > markerCount_ || markerCount_ - marker >= kEvents) {
        throw std::logic_error("staging: marker " + std::to_string(marker) + " is unknown or was recycled (newest " +
                               std::to_string(markerCount_) + ")");
    }
    return markers_[marker % kEvents];
}

cudaEvent_t CudaStaging::ticketEvent(std::uint64_t ticket) const {
    if (ticket == 0 || ticket > ticketCount_ || ticketCount_ - ticket >= kEvents) {
        throw std::logic_error("staging: ticket " + std::to_string(ticket) + " is unknown or was recycled (newest " +
                               std::to_string(ticketCount_) + ")");
    }
    return tickets_[ticket % kEvents];
}

std::uint64_t CudaStaging::mark() {
    const std::uint64_t marker = ++markerCount_;
    COHORT_CUDA_CHECK(cudaEventRecord(markers_[marker % kEvents], compute_));
    return marker;
}

std::uint64_t CudaStaging::stage(std::size_t bytes, const void* hostSource, void* destination, std::uint64_t after) {
    if (after != 0) COHORT_CUDA_CHECK(cudaStreamWaitEvent(staging_, markerEvent(after), 0));
    if (bytes > 0) {
        COHORT_CUDA_CHECK(cudaMemcpyAsync(destination, hostSource, bytes, cudaMemcpyHostToDevice, staging_));
    }
    const std::uint64_t ticket = ++ticketCount_;
    COHORT_CUDA_CHECK(cudaEventRecord(tickets_[ticket % kEvents], staging_));
    return ticket;
}

void CudaStaging::await(std::uint64_t ticket) {
    if (ticket != 0) COHORT_CUDA_CHECK(cudaStreamWaitEvent(compute_, ticketEvent(ticket), 0));
}

void CudaStaging::hostWait(std::uint64_t ticket) {
    if (ticket != 0) COHORT_CUDA_CHECK(cudaEventSynchronize(ticketEvent(ticket)));
}

}  // namespace cohort::kernels::cuda_detail
