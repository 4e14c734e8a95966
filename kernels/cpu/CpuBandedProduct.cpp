// Banded small matrix products for the CPU attention (see kernels/cpu/CpuBandedProduct.h). Built
// with contraction: in the x86-64-v3 and v4 clones each term is one fused multiply-add.
#include "kernels/cpu/CpuBandedProduct.h"

#include <algorithm>

#include "kernels/cpu/CpuClones.h"

// The vector helpers below take and return 32-byte vectors; they are always inlined into the
// clones that have AVX, so the calling convention the warning is about is never used.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace cohort::kernels::cpu_detail {
namespace {

// 32-byte vectors (GCC's and Clang's vector extensions): 8 floats or 4 doubles, one AVX register.
template <typename T>
struct VectorOf;
template <>
struct VectorOf<float> {
    typedef float type __attribute__((vector_size(32)));
};
template <>
struct VectorOf<double> {
    typedef double type __attribute__((vector_size(32)));
};
template <typename T>
using Vector = typename VectorOf<T>::type;
template <typename T>
constexpr std::int64_t kLanes = std::int64_t(32 / sizeof(T));
// A block of C is kRows rows by two vectors: 12 accumulators, two rows of B and a broadcast of A
// fit the 16 AVX registers.
constexpr int kRows = 6;
template <typename T>
constexpr std::int64_t kBlockColumns = 2 * kLanes<T>;

template <typename T>
[[gnu::always_inline]] inline Vector<T> load(const T* p) {
    Vector<T> v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

template <typename T>
[[gnu::always_inline]] inline void store(T* p, Vector<T> v) {
    __builtin_memcpy(p, &v, sizeof v);
}

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

// C[row + r][column + c] for r < R, c < two vectors, in registers over the block's depth.
template <typename T, int R>
[[gnu::always_inline]] inline void vectorBlock(std::int64_t row, std::int64_t column, const BlockRange& range, T alpha,
                                               const BandedOperands<T>& o) {
    Vector<T> low[R], high[R];
    for (int r = 0; r < R; ++r) low[r] = high[r] = Vector<T>{};
    const T* a = o.a + row * o.aRowStride;
    const T* b = o.b + column;
    for (std::int64_t k = range.depthBegin; k < range.depthEnd; ++k) {
        const Vector<T> b0 = load(b + k * o.ldb), b1 = load(b + k * o.ldb + kLanes<T>);
        const T* ak = a + k * o.aDepthStride;
        for (int r = 0; r < R; ++r) {
            const T x = ak[r * o.aRowStride];
            low[r] += x * b0;
            high[r] += x * b1;
        }
    }
    for (int r = 0; r < R; ++r) {
        T* c = o.c + (row + r) * o.ldc + column;
        store(c, low[r] * alpha);
        store(c + kLanes<T>, high[r] * alpha);
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
    std::int64_t column = 0;
    // Above the diagonal a whole vector block may overrun the band (those entries are undefined).
    const std::int64_t vectorEnd = band == Band::ColumnsToDiagonal ? columns : range.columnEnd;
    for (; column < range.columnEnd && column + kBlockColumns<T> <= vectorEnd; column += kBlockColumns<T>) {
        vectorBlock<T, R>(row, column, range, alpha, o);
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

}  // namespace cohort::kernels::cpu_detail
