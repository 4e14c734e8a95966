#pragma once
// Which of OpenBLAS's kernel sets runs, and which this CPU could run. A DYNAMIC_ARCH OpenBLAS
// picks its kernels from the CPU's model at load time; a model it does not know (Debian's 0.3.21
// on recent Xeons, which report only "Intel(R) Xeon(R) Processor") falls back to the generic
// Prescott kernels, SSE3 only: on such a machine a float GEMM runs about 3x slower than the
// AVX-512 kernels the CPU supports. The environment variable OPENBLAS_CORETYPE, read when the
// library loads, overrides the choice; the CLI sets it and starts itself again (launch/main.cpp).
#include <string>

namespace cohort::kernels {

struct OpenBlasCore {
    std::string running;      // openblas_get_corename(), e.g. "Prescott", "Haswell", "SkylakeX"
    std::string recommended;  // the best kernel set for this CPU's instructions ("" if no better)
};

OpenBlasCore openBlasCore();

}  // namespace cohort::kernels
