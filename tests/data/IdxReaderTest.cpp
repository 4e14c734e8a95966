#include <gtest/gtest.h>

#include <numeric>

#include "src/data/IdxReader.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

std::vector<std::uint8_t> sequentialBytes(std::size_t count) {
    std::vector<std::uint8_t> data(count);
    for (std::size_t i = 0; i < count; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    return data;
}

TEST(IdxReaderTest, ReadsPlainFileExactly) {
    ScratchDirectory dir;
    const auto data = sequentialBytes(3 * 4 * 5);
    writeBytes(dir.file("plain-idx3"), makeIdx({3, 4, 5}, data));
    const IdxArray array = readIdx(dir.file("plain-idx3"));
    EXPECT_EQ(array.dims, (std::vector<std::size_t>{3, 4, 5}));
    EXPECT_EQ(array.data, data);
}

TEST(IdxReaderTest, ReadsGzipFileExactly) {
    ScratchDirectory dir;
    const auto data = sequentialBytes(70000);  // larger than one inflate chunk of output
    writeGzip(dir.file("images.gz"), makeIdx({700, 10, 10}, data));
    const IdxArray array = readIdx(dir.file("images.gz"));
    EXPECT_EQ(array.dims, (std::vector<std::size_t>{700, 10, 10}));
    EXPECT_EQ(array.data, data);
}

TEST(IdxReaderTest, ReadsOneDimensionalLabels) {
    ScratchDirectory dir;
    writeBytes(dir.file("labels"), makeIdx({4}, {9, 0, 3, 1}));
    const IdxArray array = readIdx(dir.file("labels"));
    EXPECT_EQ(array.dims, (std::vector<std::size_t>{4}));
    EXPECT_EQ(array.data, (std::vector<std::uint8_t>{9, 0, 3, 1}));
}

TEST(IdxReaderTest, RejectsWrongMagic) {
    ScratchDirectory dir;
    auto bytes = makeIdx({2}, {1, 2});
    bytes[0] = 0x12;
    writeBytes(dir.file("bad-magic"), bytes);
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("bad-magic")); });
    EXPECT_CONTAINS(message, ("bad IDX file " + dir.file("bad-magic")));
    EXPECT_CONTAINS(message, ("magic"));
    EXPECT_TRUE(isOneLine(message));
}

TEST(IdxReaderTest, RejectsUnsupportedType) {
    ScratchDirectory dir;
    writeBytes(dir.file("floats"), makeIdx({2}, {0, 0, 0, 0, 0, 0, 0, 0}, 0x0D));
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("floats")); });
    EXPECT_CONTAINS(message, (dir.file("floats")));
    EXPECT_CONTAINS(message, ("unsupported element type 0x0d"));
}

TEST(IdxReaderTest, RejectsZeroDimensionsAndZeroSizedDimension) {
    ScratchDirectory dir;
    writeBytes(dir.file("ndim0"), makeIdx({}, {}));
    EXPECT_CONTAINS(inputErrorMessage([&] { readIdx(dir.file("ndim0")); }), ("zero dimensions"));
    writeBytes(dir.file("dim0"), makeIdx({3, 0}, {}));
    EXPECT_CONTAINS(inputErrorMessage([&] { readIdx(dir.file("dim0")); }), ("dimension 1 is zero"));
}

TEST(IdxReaderTest, RejectsTruncatedHeader) {
    ScratchDirectory dir;
    auto bytes = makeIdx({5, 5, 5}, {});
    bytes.resize(9);
    writeBytes(dir.file("short-header"), bytes);
    EXPECT_CONTAINS(inputErrorMessage([&] { readIdx(dir.file("short-header")); }),
                    ("truncated header"));
}

TEST(IdxReaderTest, RejectsTruncatedPayloadWithCounts) {
    ScratchDirectory dir;
    writeGzip(dir.file("train-images-idx3-ubyte.gz"), makeIdx({10, 28, 28}, sequentialBytes(1000)));
    const std::string message =
        inputErrorMessage([&] { readIdx(dir.file("train-images-idx3-ubyte.gz")); });
    EXPECT_EQ(message, "bad IDX file " + dir.file("train-images-idx3-ubyte.gz") +
                           ": truncated (expected 7840 bytes of data, found 1000)");
}

TEST(IdxReaderTest, RejectsTrailingBytes) {
    ScratchDirectory dir;
    writeBytes(dir.file("trailing"), makeIdx({2, 2}, {1, 2, 3, 4, 5}));
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("trailing")); });
    EXPECT_CONTAINS(message, (dir.file("trailing")));
    EXPECT_CONTAINS(message, ("trailing bytes (expected 4 bytes of data, found 5)"));
}

TEST(IdxReaderTest, RejectsCorruptGzipBody) {
    ScratchDirectory dir;
    // A valid 10-byte gzip header (magic, deflate, no flags), then garbage.
    std::vector<std::uint8_t> bytes = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03};
    for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<std::uint8_t>(0xff - i));
    writeBytes(dir.file("corrupt.gz"), bytes);
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("corrupt.gz")); });
    EXPECT_CONTAINS(message, ("bad IDX file " + dir.file("corrupt.gz")));
    EXPECT_CONTAINS(message, ("corrupt gzip data (zlib: "));
    EXPECT_TRUE(isOneLine(message));
}

TEST(IdxReaderTest, RejectsTruncatedGzip) {
    ScratchDirectory dir;
    writeGzip(dir.file("whole.gz"), makeIdx({500, 10}, sequentialBytes(5000)));
    auto bytes = readBytes(dir.file("whole.gz"));
    ASSERT_GT(bytes.size(), 40u);
    bytes.resize(bytes.size() / 2);
    writeBytes(dir.file("cut.gz"), bytes);
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("cut.gz")); });
    EXPECT_CONTAINS(message, ("bad IDX file " + dir.file("cut.gz")));
    EXPECT_CONTAINS(message, ("truncated gzip stream"));
}

TEST(IdxReaderTest, RejectsGzipMissingOnlyItsTrailer) {
    ScratchDirectory dir;
    writeGzip(dir.file("whole.gz"), makeIdx({4}, {1, 2, 3, 4}));
    auto bytes = readBytes(dir.file("whole.gz"));
    bytes.resize(bytes.size() - 3);  // CRC and length trailer cut short
    writeBytes(dir.file("no-trailer.gz"), bytes);
    EXPECT_CONTAINS(inputErrorMessage([&] { readIdx(dir.file("no-trailer.gz")); }),
                    ("truncated gzip stream"));
}

TEST(IdxReaderTest, RejectsGarbageAfterGzipStream) {
    ScratchDirectory dir;
    writeGzip(dir.file("whole.gz"), makeIdx({4}, {1, 2, 3, 4}));
    auto bytes = readBytes(dir.file("whole.gz"));
    bytes.push_back(0x42);
    bytes.push_back(0x42);
    writeBytes(dir.file("tail.gz"), bytes);
    EXPECT_CONTAINS(inputErrorMessage([&] { readIdx(dir.file("tail.gz")); }),
                    ("trailing garbage after gzip stream"));
}

TEST(IdxReaderTest, AcceptsConcatenatedGzipMembers) {
    ScratchDirectory dir;
    const auto whole = makeIdx({6}, {1, 2, 3, 4, 5, 6});
    writeGzip(dir.file("a.gz"), std::vector<std::uint8_t>(whole.begin(), whole.begin() + 7));
    writeGzip(dir.file("b.gz"), std::vector<std::uint8_t>(whole.begin() + 7, whole.end()));
    auto bytes = readBytes(dir.file("a.gz"));
    const auto second = readBytes(dir.file("b.gz"));
    bytes.insert(bytes.end(), second.begin(), second.end());
    writeBytes(dir.file("joined.gz"), bytes);
    EXPECT_EQ(readIdx(dir.file("joined.gz")).data, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(IdxReaderTest, MissingFileIsInputErrorNamingIt) {
    ScratchDirectory dir;
    const std::string message = inputErrorMessage([&] { readIdx(dir.file("absent")); });
    EXPECT_CONTAINS(message, ("cannot open IDX file " + dir.file("absent")));
}

}  // namespace
}  // namespace cohort::data
