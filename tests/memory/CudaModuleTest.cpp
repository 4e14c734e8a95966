// The CUDA modules are found and load in a program that links only memory/ (the executable
// exports what the memory module calls back into). Needs the CUDA libraries, not a device.
#include <gtest/gtest.h>

#include <string>

#include "memory/CudaModule.h"
#include "memory/SystemAllocator.h"

namespace cohort::memory {
namespace {

TEST(CudaModule, MemoryModuleLoadsInAProgramThatLinksOnlyMemory) {
    if (!cudaModuleBuilt()) GTEST_SKIP() << "built without CUDA";
    const CudaModuleStatus& status = loadCudaModule(CudaModule::Memory);
    EXPECT_TRUE(status.loaded) << status.error;
    EXPECT_EQ(status.error, "");
    EXPECT_NE(status.path.find("libcohort_cuda_memory.so"), std::string::npos) << status.path;
    EXPECT_TRUE(cudaModuleLoaded(CudaModule::Memory));
    EXPECT_NE(cudaModuleEntry(CudaModule::Memory, "cohort_cuda_memory_entry"), nullptr);
    EXPECT_EQ(cudaModuleEntry(CudaModule::Memory, "no_such_entry"), nullptr);
}

TEST(CudaModule, NoDriverMeansNoDeviceWithoutLoadingAnything) {
    std::string evidence;
    if (nvidiaDriverPresent(&evidence)) GTEST_SKIP() << "an NVIDIA driver is present (" << evidence << ")";
    EXPECT_NE(evidence.find("/dev/nvidiactl"), std::string::npos) << evidence;
    EXPECT_EQ(visibleCudaDevices(), 0);
}

TEST(CudaModule, EachModuleHasItsOwnFile) {
    EXPECT_STREQ(moduleFile(CudaModule::Memory), "libcohort_cuda_memory.so");
    EXPECT_STREQ(moduleFile(CudaModule::Kernels), "libcohort_cuda_kernels.so");
    EXPECT_STREQ(moduleFile(CudaModule::Nccl), "libcohort_cuda_nccl.so");
}

}  // namespace
}  // namespace cohort::memory
