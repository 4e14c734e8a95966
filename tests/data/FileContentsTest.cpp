#include <gtest/gtest.h>

#include "src/data/FileContents.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

TEST(FileContentsTest, ReadsPlainAndGzipTransparently) {
    ScratchDirectory dir;
    const std::vector<std::uint8_t> bytes = {1, 2, 3, 0x1f, 0x8b, 9};
    writeBytes(dir.file("plain.bin"), bytes);
    writeGzip(dir.file("packed.gz"), bytes);
    EXPECT_EQ(readFileMaybeGzip(dir.file("plain.bin"), "test file"), bytes);
    EXPECT_EQ(readFileMaybeGzip(dir.file("packed.gz"), "test file"), bytes);
    EXPECT_FALSE(hasGzipMagic(readFileBytes(dir.file("plain.bin"), "test file")));
    EXPECT_TRUE(hasGzipMagic(readFileBytes(dir.file("packed.gz"), "test file")));
}

TEST(FileContentsTest, EmptyGzipMemberAndEmptyFile) {
    ScratchDirectory dir;
    writeGzip(dir.file("empty.gz"), {});
    writeBytes(dir.file("empty"), {});
    EXPECT_TRUE(readFileMaybeGzip(dir.file("empty.gz"), "test file").empty());
    EXPECT_TRUE(readFileMaybeGzip(dir.file("empty"), "test file").empty());
}

TEST(FileContentsTest, GzipMagicAloneIsTruncated) {
    ScratchDirectory dir;
    writeBytes(dir.file("magic.gz"), {0x1f, 0x8b});
    const std::string message =
        inputErrorMessage([&] { readFileMaybeGzip(dir.file("magic.gz"), "test file"); });
    EXPECT_CONTAINS(message, "bad test file " + dir.file("magic.gz") + ": truncated gzip stream");
}

TEST(FileContentsTest, DirectoryIsNotReadable) {
    ScratchDirectory dir;
    EXPECT_CONTAINS(inputErrorMessage([&] { readFileBytes(dir.str(), "test file"); }),
                    "test file " + dir.str());
}

}  // namespace
}  // namespace cohort::data
