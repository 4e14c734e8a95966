#pragma once
// kernels/cpu/CpuTransformer.h — the CPU backend's GELU, layer normalisation, embeddings and attention (see Backend.h for
// the contract; the reference the CUDA backend is tested against). Embedding gradients: threads own
// token ids and positions, each summing its rows in row order. Layer norm: threads own rows in
// the forward pass and dx, features in dgain/dbias (summed over rows in row order): deterministic.
// Row statistics are summed in 8 lanes of the element type, added in a fixed order. Attention:
// threads own (sequence, head) pairs, each running its products as banded products on its own
// thread (CpuBandedProduct.h: the causal half only) and its softmax rows in vectors (float rows of
// whole vectors; sums in float lanes) or entry by entry with sums in double (the others).
#include <cstdint>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

// Backend::softmaxCrossEntropy (the float path's exponentials vectorised).
void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes, const void* logits,
                         const std::int32_t* labels, void* lossSum, void* grad, double gradScale, std::int64_t* correct);

void geluForward(DType dtype, std::int64_t count, const void* x, void* y);
void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx);
void geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y, void* dydx);
void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                      const void* gain, const void* bias, void* y, void* mean, void* rstd);
void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                       const void* mean, const void* rstd, const void* dy, void* dx, void* dgain, void* dbias);

void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                      const void* tokens, const void* positionTable, void* y);
void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                       std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens, void* dPositions);

void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                      std::int64_t headWidth, const void* qkv, void* probabilities, void* y, void* scratch);
void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                       std::int64_t headWidth, const void* qkv, const void* probabilities, const void* dy,
                       void* scratch, void* dqkv);

}  // namespace cohort::kernels::cpu_detail
