// COHORT_CUDA_CHECK's message: the call as written, file:line from the repository root, CUDA's
// error string and name. Needs the CUDA runtime library, not a device.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#ifdef COHORT_WITH_CUDA
#include "memory/cuda/CudaCheck.h"
#endif

namespace cohort::memory {
namespace {

TEST(CudaCheck, NamesTheCallWhereItWasMadeAndCudasReason) {
#ifndef COHORT_WITH_CUDA
    GTEST_SKIP() << "built without CUDA";
#else
    const auto failingCall = [] { return cudaErrorMemoryAllocation; };
    std::string message;
    int line = 0;
    try {
        line = __LINE__ + 1;
        COHORT_CUDA_CHECK(failingCall());
    } catch (const std::runtime_error& error) {
        message = error.what();
    }
    EXPECT_EQ(message, "CUDA call `failingCall()` failed at tests/memory/CudaCheckTest.cpp:" + std::to_string(line) +
                           ": out of memory (cudaErrorMemoryAllocation)");
    EXPECT_NO_THROW(COHORT_CUDA_CHECK(cudaSuccess));
#endif
}

}  // namespace
}  // namespace cohort::memory
