// The units of `cohort plan`'s --latency and --bandwidth.
#include <gtest/gtest.h>

#include "launch/options/LinkUnits.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

TEST(LinkUnits, DurationsTakeTheirUnit) {
    EXPECT_DOUBLE_EQ(parseDurationSeconds("50us", "--latency"), 50e-6);
    EXPECT_DOUBLE_EQ(parseDurationSeconds("50 us", "--latency"), 50e-6);
    EXPECT_DOUBLE_EQ(parseDurationSeconds("50\xc2\xb5s", "--latency"), 50e-6);
    EXPECT_DOUBLE_EQ(parseDurationSeconds("0.2ms", "--latency"), 0.2e-3);
    EXPECT_DOUBLE_EQ(parseDurationSeconds("800ns", "--latency"), 800e-9);
    EXPECT_DOUBLE_EQ(parseDurationSeconds("1s", "--latency"), 1.0);
}

TEST(LinkUnits, BandwidthsInBitsOrBytes) {
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("1gbit", "--bandwidth"), 125e6);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("10Gbit/s", "--bandwidth"), 1.25e9);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("100mbit", "--bandwidth"), 12.5e6);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("100Mbps", "--bandwidth"), 12.5e6);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("125MB/s", "--bandwidth"), 125e6);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("1GiB", "--bandwidth"), 1024.0 * 1024 * 1024);
    EXPECT_DOUBLE_EQ(parseBandwidthBytesPerSecond("64KiB", "--bandwidth"), 65536.0);
}

TEST(LinkUnits, RefusalsNameTheFlagAndTheForms) {
    for (const char* bad : {"50", "-50us", "0us", "50 parsecs", "us", "", "inf us", "nan us"}) {
        try {
            parseDurationSeconds(bad, "--latency");
            ADD_FAILURE() << bad << " was accepted";
        } catch (const InputError& error) {
            EXPECT_NE(std::string(error.what()).find("--latency"), std::string::npos) << error.what();
        }
    }
    // "gb" and "Gbps" are bits or bytes: refused; so are negative and absent units.
    for (const char* bad : {"1gb", "1Gb", "1gb/s", "-1gbit", "1", "1 furlong/s", "1e400gbit", "1mb"}) {
        try {
            parseBandwidthBytesPerSecond(bad, "--bandwidth");
            ADD_FAILURE() << bad << " was accepted";
        } catch (const InputError& error) {
            EXPECT_NE(std::string(error.what()).find("--bandwidth"), std::string::npos) << error.what();
        }
    }
}

TEST(LinkUnits, FormatsReadBack) {
    EXPECT_EQ(formatDuration(50e-6), "50.0 us");
    EXPECT_EQ(formatDuration(0.0123), "12.3 ms");
    EXPECT_EQ(formatBandwidth(125e6), "1.00 Gbit/s (125 MB/s)");
}

}  // namespace
}  // namespace cohort::launch
