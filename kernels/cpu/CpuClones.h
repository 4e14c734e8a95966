#pragma once
// kernels/cpu/CpuClones.h — COHORT_CPU_CLONES: a function compiled for AVX-512 and AVX2 as well as
// the baseline, the best the CPU has picked at load time (GCC's target_clones). Files that use it
// are built without floating-point contraction (kernels/CMakeLists.txt), so every clone rounds as
// the baseline does and results do not depend on the CPU.
//
// ThreadSanitizer's runtime is not up yet when the clones' resolver runs (an ifunc, at load time):
// its builds keep the baseline alone.
//
// COHORT_CPU_FMA_CLONES: the same for code that wants fused multiply-adds (matrix products, built
// with contraction): x86-64-v3 is AVX2 with FMA, v4 adds AVX-512.
#if defined(__SANITIZE_THREAD__)
#define COHORT_CPU_CLONES
#define COHORT_CPU_FMA_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COHORT_CPU_CLONES
#define COHORT_CPU_FMA_CLONES
#endif
#endif
#ifndef COHORT_CPU_CLONES
#define COHORT_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define COHORT_CPU_FMA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
