#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "memory/Memory.h"

namespace cohort::memory {
namespace {

TEST(ByteSizeTest, ParsesBinaryUnitsInAnySpelling) {
    EXPECT_EQ(parseByteSize("1024"), 1024);
    EXPECT_EQ(parseByteSize("0"), 0);
    EXPECT_EQ(parseByteSize("512B"), 512);
    EXPECT_EQ(parseByteSize("64k"), 64 * 1024);
    EXPECT_EQ(parseByteSize("64K"), 64 * 1024);
    EXPECT_EQ(parseByteSize("64KiB"), 64 * 1024);
    EXPECT_EQ(parseByteSize("512M"), 512ll << 20);
    EXPECT_EQ(parseByteSize("512mb"), 512ll << 20);
    EXPECT_EQ(parseByteSize("8G"), 8ll << 30);
    EXPECT_EQ(parseByteSize("8gib"), 8ll << 30);
    EXPECT_EQ(parseByteSize("1.5GB"), 3ll << 29);
    EXPECT_EQ(parseByteSize("2T"), 2ll << 40);
    EXPECT_EQ(parseByteSize(" 2 MiB "), 2ll << 20);
    EXPECT_EQ(parseByteSize("0.5K"), 512);
}

TEST(ByteSizeTest, RejectsBadTextNamingIt) {
    for (const char* text : {"", "   ", "-1", "-5M", "abc", "12X", "M", "1.2.3", "1e9", "10 MBs",
                             "9999999999999999999999", "8E", "16777216T", ".", "1K2"}) {
        try {
            parseByteSize(text);
            FAIL() << "accepted '" << text << "'";
        } catch (const std::invalid_argument& error) {
            EXPECT_NE(std::string(error.what()).find("'" + std::string(text) + "'"),
                      std::string::npos)
                << error.what();
        }
    }
}

TEST(ByteSizeTest, LargestValueStillFits) {
    EXPECT_EQ(parseByteSize("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
    EXPECT_THROW(parseByteSize("9223372036854775808"), std::invalid_argument);
    EXPECT_EQ(parseByteSize("8388607T"), 8388607ll << 40);
}

TEST(ByteSizeTest, FormatsInHumanUnits) {
    EXPECT_EQ(formatBytes(0), "0 B");
    EXPECT_EQ(formatBytes(512), "512 B");
    EXPECT_EQ(formatBytes(1023), "1023 B");
    EXPECT_EQ(formatBytes(1024), "1.0 KiB");
    EXPECT_EQ(formatBytes(1536 * 1024), "1.5 MiB");
    EXPECT_EQ(formatBytes(2ll << 30), "2.0 GiB");
    EXPECT_EQ(formatBytes(3ll << 40), "3.0 TiB");
    EXPECT_EQ(formatBytes((1ll << 20) - 1), "1.0 MiB");  // not "1024.0 KiB"
    EXPECT_EQ(formatBytes(-4096), "-4.0 KiB");
    EXPECT_EQ(formatBytes(std::numeric_limits<std::int64_t>::min()), "-8.0 EiB");
}

TEST(ByteSizeTest, FormatThenParseRoundTrips) {
    for (std::int64_t bytes : {0ll, 1ll, 1024ll, 3ll << 20, 5ll << 30})
        EXPECT_EQ(parseByteSize(formatBytes(bytes)), bytes) << formatBytes(bytes);
}

}  // namespace
}  // namespace cohort::memory
