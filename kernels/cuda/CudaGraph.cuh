#pragma once
// kernels/cuda/CudaGraph.cuh — Backend::beginCapture/endCapture for a CUDA backend: stream
// capture into a CUDA graph, instantiated once and launched on the same stream by replay().
//
// Capture runs in cudaStreamCaptureModeThreadLocal: other worker threads (each with its own
// stream, possibly on the same GPU) may keep allocating and launching while one thread records.
// A capture that CUDA invalidates (a synchronising call, an allocation, the legacy stream touched
// from this thread) ends with endStreamCapture returning nullptr and the reason; the caller then
// runs the work normally. The captured object must not outlive the stream.
#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "kernels/Backend.h"

namespace cohort::kernels::cuda_detail {

void beginStreamCapture(cudaStream_t stream);
std::unique_ptr<Backend::Captured> endStreamCapture(cudaStream_t stream, int device, std::string* whyNot);

}  // namespace cohort::kernels::cuda_detail
