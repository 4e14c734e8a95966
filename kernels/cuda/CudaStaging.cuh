#pragma once
// kernels/cuda/CudaStaging.cuh — the CUDA backend's staging queue (Backend::mark /
// stageFromHost / awaitStaged / stagedOnHost): a second non-blocking stream on the backend's
// device for host-to-device copies, ordered against the compute stream with events. Two fixed
// rings of 16 events (markers recorded on the compute stream, tickets on the staging stream);
// token t uses slot t % 16, so a token is valid until 16 newer ones of its kind were made.
// Created on first use outside any capture; the owner's device must be current in every call.
#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace cohort::kernels::cuda_detail {

class CudaStaging {
public:
    static constexpr std::size_t kEvents = 16;

    explicit CudaStaging(cudaStream_t compute);
    ~CudaStaging();
    CudaStaging(const CudaStaging&) = delete;
    CudaStaging& operator=(const CudaStaging&) = delete;

    std::uint64_t mark();
    std::uint64_t stage(std::size_t bytes, const void* hostSource, void* destination, std::uint64_t after);
    void await(std::uint64_t ticket);
    void hostWait(std::uint64_t ticket);

private:
    void release() noexcept;
    // The event of `token` in `ring` (`newest` tokens made so far); throws for an unknown or
    // recycled token.
    static cudaEvent_t eventOf(const std::array<cudaEvent_t, kEvents>& ring, std::uint64_t newest, std::uint64_t token,
                               const char* kind);

    cudaStream_t compute_;
    cudaStream_t staging_ = nullptr;
    std::array<cudaEvent_t, kEvents> markers_{};
    std::array<cudaEvent_t, kEvents> tickets_{};
    std::uint64_t markerCount_ = 0, ticketCount_ = 0;
};

}  // namespace cohort::kernels::cuda_detail
