// CUDA stream capture and graph replay for the CUDA backend (see CudaGraph.cuh).
#include "kernels/cuda/CudaGraph.cuh"

#include "kernels/cuda/CudaCheck.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

class CudaGraphReplay final : public Backend::Captured {
public:
    CudaGraphReplay(cudaGraphExec_t graph, cudaStream_t stream, int device)
        : graph_(graph), stream_(stream), device_(device) {}
    ~CudaGraphReplay() override {
        if (cudaSetDevice(device_) == cudaSuccess) reportTeardownFailure(cudaGraphExecDestroy(graph_), "cudaGraphExecDestroy");
    }
    CudaGraphReplay(const CudaGraphReplay&) = delete;
    CudaGraphReplay& operator=(const CudaGraphReplay&) = delete;

    void replay() override {
        COHORT_CUDA_CHECK(cudaSetDevice(device_));
        COHORT_CUDA_CHECK(cudaGraphLaunch(graph_, stream_));
    }

private:
    cudaGraphExec_t graph_;
    cudaStream_t stream_;
    int device_;
};

std::unique_ptr<Backend::Captured> failed(std::string* whyNot, const std::string& reason) {
    (void)cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
    if (whyNot) *whyNot = reason;
    return nullptr;
}

}  // namespace

void beginStreamCapture(cudaStream_t stream) {
    COHORT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
}

std::unique_ptr<Backend::Captured> endStreamCapture(cudaStream_t stream, int device, std::string* whyNot) {
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
    if (ended != cudaSuccess || graph == nullptr) {
        if (graph) (void)cudaGraphDestroy(graph);
        return failed(whyNot, std::string("CUDA stream capture failed: ") + cudaGetErrorString(ended));
    }
    cudaGraphExec_t executable = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&executable, graph, 0);
    reportTeardownFailure(cudaGraphDestroy(graph), "cudaGraphDestroy");
    if (instantiated != cudaSuccess || executable == nullptr) {
        return failed(whyNot, std::string("cudaGraphInstantiate failed: ") + cudaGetErrorString(instantiated));
    }
    return std::make_unique<CudaGraphReplay>(executable, stream, device);
}

}  // namespace cohort::kernels::cuda_detail
