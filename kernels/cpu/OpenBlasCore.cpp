#include "kernels/cpu/OpenBlasCore.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>

namespace cohort::kernels {
namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

// Kernel sets by the instructions they need, best first (x86-64 only).
std::string bestCoreForThisCpu() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return "";
}

}  // namespace

OpenBlasCore openBlasCore() {
    OpenBlasCore core;
    const char* name = openblas_get_corename();
    core.running = name != nullptr ? name : "";
    const std::string best = bestCoreForThisCpu();
    // Only kernel sets older than AVX2 count as a fallback: a newer one the library chose itself
    // (Cooperlake, SapphireRapids, Zen) is kept.
    static const char* const kGeneric[] = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                           "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator",
                                           "barcelona", "opteron", "katmai", "coppermine", "northwood", "banias",
                                           "unknown", ""};
    const std::string running = lower(core.running);
    const bool generic = std::find(std::begin(kGeneric), std::end(kGeneric), running) != std::end(kGeneric);
    if (generic && !best.empty()) core.recommended = best;
    return core;
}

}  // namespace cohort::kernels
