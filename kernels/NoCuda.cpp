// Stand-ins for the CUDA entry points when the toolkit was not found at build time.
#ifndef COHORT_WITH_CUDA
#include <stdexcept>

#include "kernels/Backend.h"

namespace cohort::kernels {
bool cudaCompiledIn() { return false; }
int cudaDeviceCount() { return 0; }
std::string cudaDeviceName(int device) { return "CUDA device " + std::to_string(device); }
std::unique_ptr<Backend> makeCudaBackend(int, bool) {
    throw std::runtime_error("no CUDA device: cohort was built without the CUDA toolkit");
}
}  // namespace cohort::kernels
#endif
