#pragma once
// kernels/cpu/CpuGemm.h — row-major C = alpha op(A) op(B) + beta C through OpenBLAS, in single or
// double precision: the CPU backend's gemm and the attention's per-head products. Inside an OpenMP
// region OpenBLAS (its OpenMP build) runs on the calling thread.
#include <cblas.h>

#include <algorithm>
#include <cstdint>

namespace cohort::kernels::cpu_detail {

// OpenBLAS (0.3.21) applies a beta other than one in a pass of scalar stores over C before the
// product; for beta = 0 that pass cost 6% of a GPT step. Zeroing C with vector stores and asking
// for beta = 1 (which skips the pass) gives the same result: BLAS never reads C when beta is 0,
// and neither does this (the zeros replace whatever C held, NaN included).
template <typename T>
T zeroedForAccumulation(T beta, std::int64_t m, std::int64_t n, T* c, std::int64_t ldc) {
    if (beta != T(0)) return beta;
    if (ldc == n) {
        std::fill_n(c, m * n, T(0));  // one call over the whole block
    } else {
        for (std::int64_t row = 0; row < m; ++row) std::fill_n(c + row * ldc, n, T(0));
    }
    return T(1);
}

inline void rowMajorGemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                         const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                         std::int64_t ldc) {
    beta = zeroedForAccumulation(beta, m, n, c, ldc);
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

inline void rowMajorGemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                         const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                         std::int64_t ldc) {
    beta = zeroedForAccumulation(beta, m, n, c, ldc);
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace cohort::kernels::cpu_detail
