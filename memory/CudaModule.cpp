// Finding and loading the CUDA module (see memory/CudaModule.h).
#include "memory/CudaModule.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace cohort::memory {
namespace {

bool ncclBuilt() {
#ifdef COHORT_WITH_NCCL
    return true;
#else
    return false;
#endif
}

std::filesystem::path executableFolder() {
    std::error_code error;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::filesystem::path() : self.parent_path();
}

std::vector<std::string> candidatePaths(const std::string& file) {
    std::vector<std::string> paths;
    if (const char* folder = std::getenv("COHORT_CUDA_MODULE_DIR"); folder && *folder) {
        paths.push_back((std::filesystem::path(folder) / file).string());
        return paths;  // an explicit choice is the only one tried
    }
    const auto folder = executableFolder();
    if (!folder.empty()) {
        paths.push_back((folder / ".." / "lib" / file).lexically_normal().string());
        paths.push_back((folder / ".." / "lib" / "cohort" / file).lexically_normal().string());
    }
#ifdef COHORT_CUDA_MODULE_BUILD_DIR
    paths.push_back((std::filesystem::path(COHORT_CUDA_MODULE_BUILD_DIR) / file).string());
#endif
#ifdef COHORT_CUDA_MODULE_INSTALL_DIR
    paths.push_back((std::filesystem::path(COHORT_CUDA_MODULE_INSTALL_DIR) / file).string());
#endif
    return paths;
}

CudaModuleStatus load(CudaModule module, void*& handle) {
    const std::string file = moduleFile(module);
    CudaModuleStatus status;
    if (!cudaModuleBuilt()) {
        status.error = "cohort was built without the CUDA toolkit";
        return status;
    }
    if (module == CudaModule::Nccl && !ncclBuilt()) {
        status.error = "cohort was built without NCCL";
        return status;
    }
    const auto paths = candidatePaths(file);
    for (const auto& path : paths) {
        std::error_code error;
        if (!std::filesystem::exists(path, error)) continue;
        status.path = path;
        // RTLD_NOW: a missing library or symbol is found here, with dlerror's words, not at the
        // first call. RTLD_LOCAL: the CUDA libraries' symbols stay out of the executable's way.
        handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char* why = dlerror();
            status.error = "cannot load the CUDA module " + path + ": " + (why ? why : "unknown error");
            return status;
        }
        status.loaded = true;
        return status;
    }
    status.error = "the CUDA module " + file + " was not found (looked at " +
                   (paths.empty() ? std::string("nothing") : paths.front()) +
                   (paths.size() > 1 ? " and " + std::to_string(paths.size() - 1) + " more" : std::string()) +
                   "; set COHORT_CUDA_MODULE_DIR to its folder)";
    return status;
}

struct ModuleState {
    std::once_flag once;
    void* handle = nullptr;
    CudaModuleStatus status;
    std::atomic<bool> tried{false};
};

ModuleState& state(CudaModule module) {
    static ModuleState instances[3];
    return instances[static_cast<int>(module)];
}

}  // namespace

const char* moduleFile(CudaModule module) {
    switch (module) {
        case CudaModule::Memory: return "libcohort_cuda_memory.so";
        case CudaModule::Kernels: return "libcohort_cuda_kernels.so";
        case CudaModule::Nccl: return "libcohort_cuda_nccl.so";
    }
    return "libcohort_cuda_unknown.so";
}

std::string fileDefining(const void* symbol) {
    Dl_info info{};
    if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "(unknown file)";
    return info.dli_fname;
}

bool cudaModuleBuilt() {
#ifdef COHORT_WITH_CUDA
    return true;
#else
    return false;
#endif
}

bool nvidiaDriverPresent(std::string* evidence) {
    for (const char* path : {"/dev/nvidiactl", "/dev/dxg", "/proc/driver/nvidia/version"}) {
        if (access(path, F_OK) == 0) {
            if (evidence) *evidence = path;
            return true;
        }
    }
    if (evidence) *evidence = "no /dev/nvidiactl, /dev/dxg or /proc/driver/nvidia";
    return false;
}

const CudaModuleStatus& loadCudaModule(CudaModule module) {
    ModuleState& loaded = state(module);
    std::call_once(loaded.once, [&loaded, module] {
        loaded.status = load(module, loaded.handle);
        loaded.tried.store(true);
    });
    return loaded.status;
}

bool cudaModuleLoaded(CudaModule module) {
    ModuleState& loaded = state(module);
    return loaded.tried.load() && loaded.status.loaded;
}

const void* cudaModuleEntry(CudaModule module, const char* name) {
    if (!loadCudaModule(module).loaded) return nullptr;
    using EntryFunction = const void* (*)();
    auto function = reinterpret_cast<EntryFunction>(dlsym(state(module).handle, name));
    if (function == nullptr) return nullptr;
    const void* table = function();
    // Every table starts with the ABI it was built for.
    if (table == nullptr || *static_cast<const int*>(table) != kCudaModuleAbi) return nullptr;
    return table;
}

const void* requireCudaModuleEntry(CudaModule module, const char* name, const std::string& purpose) {
    const CudaModuleStatus& status = loadCudaModule(module);
    if (!status.loaded) throw std::runtime_error(purpose + " needs the CUDA module, and " + status.error);
    const void* table = cudaModuleEntry(module, name);
    if (table == nullptr) {
        throw std::runtime_error(purpose + " needs the CUDA module's " + name + ", which " + status.path +
                                 " does not offer in ABI " + std::to_string(kCudaModuleAbi) +
                                 " (a module from another build?)");
    }
    return table;
}

}  // namespace cohort::memory
