#pragma once
// kernels/cpu/CpuBandedProduct.h — the small matrix products of causal attention, one (sequence,
// head) pair at a time on the calling thread: C = alpha A B where only a triangle of A or of C
// matters. OpenBLAS computed the whole squares, at a third of its large-matrix rate on 64 x 64 x 32
// products (the call, the packing and the beta pass cost more than the arithmetic there); these
// skip the masked half and pack nothing, holding a block of C in vector registers while A is
// broadcast and B read a row at a time.
//
// A is addressed as A(i, k) = a[i * aRowStride + k * aDepthStride], so a transposed operand is a
// stride swap; B is row-major (B(k, j) = b[k * ldb + j]); C is row-major and overwritten.
#include <cstdint>

namespace cohort::kernels::cpu_detail {

enum class Band : std::uint8_t {
    Full,               // every entry of C, over the whole depth
    ColumnsToDiagonal,  // row i needs columns j <= i only; entries above the diagonal are left undefined
    DepthToDiagonal,    // A(i, k) = 0 for k > i: row i sums k <= i only
    DepthFromDiagonal,  // A(i, k) = 0 for k < i: row i sums k >= i only
};

template <typename T>
struct BandedOperands {
    const T* a;
    std::int64_t aRowStride, aDepthStride;
    const T* b;
    std::int64_t ldb;
    T* c;
    std::int64_t ldc;
};

// C [rows x columns] = alpha * A [rows x depth] * B [depth x columns] within `band`, on the calling
// thread. Each entry is summed in depth order (terms a band excludes are exact zeros), then scaled:
// its value depends on the shapes and on whether the CPU fuses multiply-adds, nothing else.
template <typename T>
void bandedProduct(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth, T alpha,
                   const BandedOperands<T>& operands);

// dst [width x rows] = the transpose of src [rows x width] (row stride `stride`), on the calling
// thread: the products read keys (forward) and values (backward) a row of positions at a time.
template <typename T>
void transposeRows(T* dst, const T* src, std::int64_t rows, std::int64_t width, std::int64_t stride);

}  // namespace cohort::kernels::cpu_detail
