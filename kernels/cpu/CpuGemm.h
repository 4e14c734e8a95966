#pragma once
// kernels/cpu/CpuGemm.h — row-major C = alpha op(A) op(B) + beta C through OpenBLAS, in single or
// double precision: the CPU backend's gemm and the attention's per-head products. Inside an OpenMP
// region OpenBLAS (its OpenMP build) runs on the calling thread.
#include <cblas.h>

#include <cstdint>

namespace cohort::kernels::cpu_detail {

inline void rowMajorGemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                         const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                         std::int64_t ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

inline void rowMajorGemm(bool transA, bool transB, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                         const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                         std::int64_t ldc) {
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace cohort::kernels::cpu_detail
