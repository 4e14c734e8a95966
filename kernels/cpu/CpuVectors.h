#pragma once
// kernels/cpu/CpuVectors.h — 32-byte vectors for the CPU kernels that spell their vector code out
// (GCC's and Clang's vector extensions): 8 floats or 4 doubles, one AVX register, or two SSE
// registers in a baseline build. The helpers are always inlined into the functions that use them,
// which are target clones (kernels/cpu/CpuClones.h), so each clone gets its own instructions.
// Its functions take and return vectors by value: GCC notes the calling convention of such calls
// (-Wpsabi, off for the files that include this, kernels/CMakeLists.txt); inlined, none is made.
#include <algorithm>
#include <cstdint>

namespace cohort::kernels::cpu_detail::vectors {

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

using Floats = Vector<float>;
typedef std::int32_t Ints __attribute__((vector_size(32)));  // a lane mask: all ones or all zeros

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

[[gnu::always_inline]] inline Floats splat(float x) { return Floats{} + x; }
// mask ? a : b lane by lane (a mask from a vector comparison).
[[gnu::always_inline]] inline Floats select(Ints mask, Floats a, Floats b) {
    return Floats((mask & Ints(a)) | (~mask & Ints(b)));
}
// As std::max and std::min lane by lane (the first operand when the comparison is false).
[[gnu::always_inline]] inline Floats max(Floats a, Floats b) { return select(a < b, b, a); }
[[gnu::always_inline]] inline Floats min(Floats a, Floats b) { return select(b < a, b, a); }
// The lanes' sum in pairs (a fixed order) and their largest.
[[gnu::always_inline]] inline float sum(Floats v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }
[[gnu::always_inline]] inline float largest(Floats v) {
    return std::max(std::max(std::max(v[0], v[1]), std::max(v[2], v[3])),
                    std::max(std::max(v[4], v[5]), std::max(v[6], v[7])));
}

}  // namespace cohort::kernels::cpu_detail::vectors
