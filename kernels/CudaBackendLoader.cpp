// The CUDA entry points of kernels/Backend.h, answered through the CUDA module
// (memory/CudaModule.h): nothing here links CUDA, and nothing loads it before a GPU is asked for.
#include <stdexcept>
#include <typeinfo>
#include <string>

#include "kernels/Backend.h"
#include "kernels/cuda/CudaEntry.h"
#include "memory/CudaModule.h"
#include "memory/SystemAllocator.h"

namespace cohort::kernels {
namespace {

const cuda_detail::CudaKernelsEntry* loadedEntry() {
    return static_cast<const cuda_detail::CudaKernelsEntry*>(memory::cudaModuleEntry(memory::CudaModule::Kernels, cuda_detail::kCudaKernelsEntryName));
}

// What the module calls back into: named here so that every executable holding this file holds
// them too, for the module to find (the executable exports them; see cohort_config).
[[gnu::used]] void moduleCallbacks() {
    (void)sizeOf(DType::Float32);
    (void)toString(DType::Float32);
    (void)typeid(Backend);
    (void)memory::fileDefining(nullptr);
}

// Why a requested ordinal is not there, as far as this process can tell.
std::string whyNoDevice() {
    std::string evidence;
    if (!memory::nvidiaDriverPresent(&evidence)) return "no NVIDIA driver: " + evidence;
    const memory::CudaModuleStatus& module = memory::loadCudaModule(memory::CudaModule::Kernels);
    if (!module.loaded) return module.error;
    return "check the driver, CUDA_VISIBLE_DEVICES and the device list";
}

}  // namespace

bool cudaCompiledIn() { return memory::cudaModuleBuilt(); }

int cudaDeviceCount() { return memory::visibleCudaDevices(); }

std::string cudaDeviceName(int device) {
    const auto* entry = cudaDeviceCount() > 0 ? loadedEntry() : nullptr;
    return entry ? entry->deviceName(device) : "CUDA device " + std::to_string(device);
}

std::unique_ptr<Backend> makeCudaBackend(int device, bool allowTf32) {
    if (!cudaCompiledIn()) throw std::runtime_error("no CUDA device: cohort was built without the CUDA toolkit");
    const int visible = cudaDeviceCount();
    if (device < 0 || device >= visible) {
        throw std::runtime_error("no CUDA device: ordinal " + std::to_string(device) + " requested, " +
                                 std::to_string(visible) + " visible (" + whyNoDevice() + ")");
    }
    const auto* entry = static_cast<const cuda_detail::CudaKernelsEntry*>(
        memory::requireCudaModuleEntry(memory::CudaModule::Kernels, cuda_detail::kCudaKernelsEntryName, "a CUDA backend"));
    return entry->makeBackend(device, allowTf32);
}

std::string cudaLibraries() {
    if (!memory::cudaModuleLoaded(memory::CudaModule::Kernels)) return "";
    const auto* entry = loadedEntry();
    return entry ? entry->libraries() : std::string();
}

}  // namespace cohort::kernels
