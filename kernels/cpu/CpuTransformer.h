#pragma once
// kernels/cpu/CpuTransformer.h — the CPU backend's GELU and layer normalisation (see Backend.h for
// the contract; the reference the CUDA backend is tested against). Embedding gradients: threads own
// token ids and positions, each summing its rows in row order. Layer norm: threads own rows in
// the forward pass and dx, features in dgain/dbias (summed over rows in row order): deterministic.
// Row statistics are summed in double.
#include <cstdint>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

void geluForward(DType dtype, std::int64_t count, const void* x, void* y);
void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx);
void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                      const void* gain, const void* bias, void* y, void* mean, void* rstd);
void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                       const void* mean, const void* rstd, const void* dy, void* dx, void* dgain, void* dbias);

void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                      const void* tokens, const void* positionTable, void* y);
void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                       std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens, void* dPositions);

}  // namespace cohort::kernels::cpu_detail
