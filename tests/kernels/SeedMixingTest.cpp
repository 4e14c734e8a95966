// Every seed derivation pinned to values computed before the derivations shared one header: a
// change here changes every run's initial weights, dropout masks or sample order.
#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/SeedMixing.h"

namespace cohort::kernels {
namespace {

constexpr std::uint64_t kAllOnes = 0xFFFFFFFFFFFFFFFFULL;

struct MixCase {
    std::uint64_t input, mixed, splitmixed;  // input, mixBits(input), splitmix64(input)
};
constexpr MixCase kMixCases[] = {
    {0, 0, 0xe220a8397b1dcdafULL},
    {1, 0x5692161d100b05e5ULL, 0x910a2dec89025cc1ULL},
    {42, 0xa759ea27d4727622ULL, 0xbdd732262feb6e95ULL},
    {kAllOnes, 0xb4d055fcf2cbbd7bULL, 0xe4d971771b652c20ULL},
    {0x0123456789ABCDEFULL, 0xb2c058e4ebb5112cULL, 0x157a3807a48faa9dULL},
};

TEST(SeedMixing, MixBitsAndSplitmix64KeepTheirValues) {
    for (const MixCase& c : kMixCases) {
        EXPECT_EQ(mixBits(c.input), c.mixed) << c.input;
        EXPECT_EQ(splitmix64(c.input), c.splitmixed) << c.input;
    }
    static_assert(splitmix64(7) == mixBits(7 + kGoldenGamma));
}

struct StreamCase {
    std::uint64_t seed, stream, derived, dataStream;  // deriveSeed(seed, stream), dataStreamSeed(seed, stream)
};
constexpr StreamCase kStreamCases[] = {
    {0, 0, 0xe220a8397b1dcdafULL, 0xf2253e3606a0bf0fULL},
    {42, 0, 0xbdd732262feb6e95ULL, 0x45fdaa92f22a7a13ULL},
    {42, 1, 0x28efe333b266f103ULL, 0x89ad1bdbb209c529ULL},
    {42, 7, 0xccf635ee9e9e2fa4ULL, 0x259395266a79a30cULL},
    {1234, 3, 0x4e6241f252d0a033ULL, 0x3026a150a2515685ULL},
    {kAllOnes, 5, 0xd31dadbda438bb33ULL, 0x53d6361e7d5aa502ULL},
};

TEST(SeedMixing, LayerReplicaAndDataStreamSeedsKeepTheirValues) {
    for (const StreamCase& c : kStreamCases) {
        EXPECT_EQ(deriveSeed(c.seed, c.stream), c.derived) << c.seed << ", " << c.stream;
        EXPECT_EQ(dataStreamSeed(c.seed, c.stream), c.dataStream) << c.seed << ", " << c.stream;
    }
    static_assert(deriveSeed(42, 0) == splitmix64(42));
}

TEST(SeedMixing, DropoutDrawsKeepTheirValues) {
    EXPECT_EQ(counterUniform(0, 0), 0x1.b6db29915936ap-2);
    EXPECT_EQ(counterUniform(77, 1000), 0x1.634a4baade266p-2);
    EXPECT_EQ(counterUniform(77, 1001), 0x1.4995e33c1601p-2);
    EXPECT_EQ(counterUniform(42, 123456789), 0x1.dd16db76fp-1);
    EXPECT_EQ(counterUniform(kAllOnes, 3), 0x1.00a2812639528p-4);
}

}  // namespace
}  // namespace cohort::kernels
