// Banded small matrix products for the CPU attention (see kernels/cpu/CpuBandedProduct.h). Built
// with contraction: in the x86-64-v3 and v4 clones each term is one fused multiply-add.
#include "kernels/cpu/CpuBandedProduct.h"

#include <algorithm>

#include "kernels/cpu/CpuClones.h"
#include "kernels/cpu/CpuVectors.h"

namespace cohort::kernels::cpu_detail {
namespace {

using vectors::kLanes;
using vectors::load;
using vectors::store;
using vectors::Vector;

// A block of C is kRows rows by two vectors: 12 accumulators, two rows of B and a broadcast of A
// fit the 16 AVX registers.
constexpr int kRows = 6;
template <typename T>
constexpr std::int64_t kBlockColumns = 2 * kLanes<T>;

// Where one block of rows [row, row + R) sums and which columns it needs.
struct BlockRange {
    std::int64_t columnEnd, depthBegin, depthEnd;
};

inline BlockRange rangeOf(Band band, std::int64_t row, int rowsInBlock, std::int64_t columns, std::int64_t depth) {
    BlockRange range{columns, 0, depth};
    if (band == Band::ColumnsToDiagonal) range.columnEnd = std::min(columns, row + rowsInBlock);
    if (band == Band::DepthToDiagonal) range.depthEnd = std::min(depth, row + rowsInBlock);
    if (band == Band::DepthFromDiagonal) range.depthBegin = std::min(depth, row);
    return range;
}

// C[row + r][column + c] for r < R, c < V vectors (one or two), in registers over the block's depth.
template <typename T, int R, int V>
[[gnu::always_inline]] inline void vectorBlock(std::int64_t row, std::int64_t column, const BlockRange& range, T alpha,
                                               const BandedOperands<T>& o) {
    Vector<T> sums[R][V];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) sums[r][v] = Vector<T>{};
    }
    const T* a = o.a + row * o.aRowStride;
    const T* b = o.b + column;
    for (std::int64_t k = range.depthBegin; k < range.depthEnd; ++k) {
        Vector<T> bk[V];
        for (int v = 0; v < V; ++v) bk[v] = load(b + k * o.ldb + v * kLanes<T>);
        const T* ak = a + k * o.aDepthStride;
        for (int r = 0; r < R; ++r) {
            const T x = ak[r * o.aRowStride];
            for (int v = 0; v < V; ++v) sums[r][v] += x * bk[v];
        }
    }
    if (alpha != T(1)) {
        for (int r = 0; r < R; ++r) {
            for (int v = 0; v < V; ++v) sums[r][v] *= alpha;
        }
    }
    for (int r = 0; r < R; ++r) {
        T* c = o.c + (row + r) * o.ldc + column;
        for (int v = 0; v < V; ++v) store(c + v * kLanes<T>, sums[r][v]);
    }
}

// The columns [column, end) that do not fill a vector block, one entry at a time.
template <typename T, int R>
[[gnu::always_inline]] inline void scalarColumns(std::int64_t row, std::int64_t column, const BlockRange& range,
                                                 T alpha, const BandedOperands<T>& o) {
    for (int r = 0; r < R; ++r) {
        const T* a = o.a + (row + r) * o.aRowStride;
        for (std::int64_t j = column; j < range.columnEnd; ++j) {
            T sum = T(0);
            for (std::int64_t k = range.depthBegin; k < range.depthEnd; ++k) sum += a[k * o.aDepthStride] * o.b[k * o.ldb + j];
            o.c[(row + r) * o.ldc + j] = sum * alpha;
        }
    }
}

template <typename T, int R>
[[gnu::always_inline]] inline void rowBlock(Band band, std::int64_t row, std::int64_t columns, std::int64_t depth,
                                            T alpha, const BandedOperands<T>& o) {
    const BlockRange range = rangeOf(band, row, R, columns, depth);
    // Above the diagonal a vector block may overrun the band (those entries are undefined): blocks
    // of two vectors while more than one vector is left, then one vector, then single entries.
    const std::int64_t vectorEnd = band == Band::ColumnsToDiagonal ? columns : range.columnEnd;
    std::int64_t column = 0;
    for (; column + kLanes<T> < range.columnEnd && column + kBlockColumns<T> <= vectorEnd; column += kBlockColumns<T>) {
        vectorBlock<T, R, 2>(row, column, range, alpha, o);
    }
    for (; column < range.columnEnd && column + kLanes<T> <= vectorEnd; column += kLanes<T>) {
        vectorBlock<T, R, 1>(row, column, range, alpha, o);
    }
    if (column < range.columnEnd) scalarColumns<T, R>(row, column, range, alpha, o);
}

template <typename T>
[[gnu::always_inline]] inline void product(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth,
                                           T alpha, const BandedOperands<T>& o) {
    std::int64_t row = 0;
    for (; row + kRows <= rows; row += kRows) rowBlock<T, kRows>(band, row, columns, depth, alpha, o);
    switch (rows - row) {
        case 5: rowBlock<T, 5>(band, row, columns, depth, alpha, o); break;
        case 4: rowBlock<T, 4>(band, row, columns, depth, alpha, o); break;
        case 3: rowBlock<T, 3>(band, row, columns, depth, alpha, o); break;
        case 2: rowBlock<T, 2>(band, row, columns, depth, alpha, o); break;
        case 1: rowBlock<T, 1>(band, row, columns, depth, alpha, o); break;
        default: break;
    }
}

COHORT_CPU_FMA_CLONES void productFloat(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth,
                                        float alpha, const BandedOperands<float>& operands) {
    product(band, rows, columns, depth, alpha, operands);
}

COHORT_CPU_FMA_CLONES void productDouble(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth,
                                         double alpha, const BandedOperands<double>& operands) {
    product(band, rows, columns, depth, alpha, operands);
}

// dst[c][p] = src[p][c] for an 8 x 8 tile of floats, in registers: pairs of rows interleaved, then
// pairs of pairs, then the 128-bit halves exchanged (unpack, shuffle and permute on AVX).
[[gnu::always_inline]] inline void transposeTile(float* dst, std::int64_t ldDst, const float* src, std::int64_t ldSrc) {
    Vector<float> r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) r[i] = load(src + i * ldSrc);
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; ++i) {
        store(dst + i * ldDst, __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11));
        store(dst + (i + 4) * ldDst, __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15));
    }
}

// dst[c][p] = src[p][c] entry by entry for p in [rowBegin, rowEnd), c in [columnBegin, width); dst
// has `rows` columns.
template <typename T>
[[gnu::always_inline]] inline void transposeEntries(T* dst, const T* src, std::int64_t rows, std::int64_t width,
                                                    std::int64_t stride, std::int64_t rowBegin, std::int64_t rowEnd,
                                                    std::int64_t columnBegin) {
    for (std::int64_t p = rowBegin; p < rowEnd; ++p) {
        for (std::int64_t c = columnBegin; c < width; ++c) dst[c * rows + p] = src[p * stride + c];
    }
}

COHORT_CPU_CLONES void transposeFloat(float* dst, const float* src, std::int64_t rows, std::int64_t width,
                                      std::int64_t stride) {
    const std::int64_t tileRows = rows / 8 * 8, tileColumns = width / 8 * 8;
    for (std::int64_t p = 0; p < tileRows; p += 8) {
        for (std::int64_t c = 0; c < tileColumns; c += 8) transposeTile(dst + c * rows + p, rows, src + p * stride + c, stride);
    }
    transposeEntries(dst, src, rows, width, stride, 0, tileRows, tileColumns);  // the columns right of the tiles
    transposeEntries(dst, src, rows, width, stride, tileRows, rows, 0);         // the rows below them
}

}  // namespace

template <>
void bandedProduct<float>(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth, float alpha,
                          const BandedOperands<float>& operands) {
    productFloat(band, rows, columns, depth, alpha, operands);
}

template <>
void bandedProduct<double>(Band band, std::int64_t rows, std::int64_t columns, std::int64_t depth, double alpha,
                           const BandedOperands<double>& operands) {
    productDouble(band, rows, columns, depth, alpha, operands);
}

template <>
void transposeRows<float>(float* dst, const float* src, std::int64_t rows, std::int64_t width, std::int64_t stride) {
    transposeFloat(dst, src, rows, width, stride);
}

template <>
void transposeRows<double>(double* dst, const double* src, std::int64_t rows, std::int64_t width, std::int64_t stride) {
    transposeEntries(dst, src, rows, width, stride, 0, rows, 0);
}

}  // namespace cohort::kernels::cpu_detail
