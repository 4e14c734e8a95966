#include <gtest/gtest.h>

#include <filesystem>

#include "src/data/Cifar10Loader.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

std::vector<std::uint8_t> cifarRecords(std::size_t count, std::uint8_t firstLabel) {
    std::vector<std::uint8_t> bytes;
    for (std::size_t r = 0; r < count; ++r) {
        bytes.push_back(static_cast<std::uint8_t>((firstLabel + r) % 10));
        for (std::size_t p = 0; p < 3072; ++p) bytes.push_back(static_cast<std::uint8_t>(p + r));
    }
    return bytes;
}

void writeCifarDirectory(const std::string& directory) {
    std::filesystem::create_directories(directory);
    for (int batch = 1; batch <= 5; ++batch)
        writeBytes(directory + "/data_batch_" + std::to_string(batch) + ".bin",
                   cifarRecords(2, static_cast<std::uint8_t>(batch)));
    writeBytes(directory + "/test_batch.bin", cifarRecords(3, 0));
}

TEST(Cifar10LoaderTest, LoadsAllBatches) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.str());
    const DatasetSplits splits = loadCifar10(dir.str());
    EXPECT_EQ(splits.train.count, 10u);
    EXPECT_EQ(splits.test.count, 3u);
    EXPECT_EQ(splits.train.sampleShape, (std::vector<std::size_t>{3, 32, 32}));
    EXPECT_EQ(splits.train.featureSize, 3072u);
    EXPECT_EQ(splits.train.numClasses, 10);
    EXPECT_EQ(splits.train.labels, (std::vector<std::int32_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6}));
    EXPECT_EQ(splits.test.labels, (std::vector<std::int32_t>{0, 1, 2}));
    // Record 1 of the second file is train sample 3; its pixel p is (p + 1) mod 256.
    EXPECT_FLOAT_EQ(splits.train.sample(3)[0], 1.0f / 255.0f);
    EXPECT_FLOAT_EQ(splits.train.sample(3)[1024], static_cast<float>((1024 + 1) % 256) / 255.0f);
}

TEST(Cifar10LoaderTest, AcceptsArchiveSubfolder) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.file("cifar-10-batches-bin"));
    EXPECT_EQ(loadCifar10(dir.str()).test.count, 3u);
}

TEST(Cifar10LoaderTest, WrongSizeNamesFileAndSize) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.str());
    auto bytes = cifarRecords(2, 0);
    bytes.pop_back();
    writeBytes(dir.file("data_batch_3.bin"), bytes);
    const std::string message = inputErrorMessage([&] { loadCifar10(dir.str()); });
    EXPECT_CONTAINS(message, dir.file("data_batch_3.bin"));
    EXPECT_CONTAINS(message, "size 6145 bytes");
    EXPECT_TRUE(isOneLine(message));
}

TEST(Cifar10LoaderTest, EmptyFileIsAnError) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.str());
    writeBytes(dir.file("test_batch.bin"), {});
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCifar10(dir.str()); }), "size 0 bytes");
}

TEST(Cifar10LoaderTest, LabelOutOfRange) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.str());
    auto bytes = cifarRecords(2, 0);
    bytes[3073] = 10;
    writeBytes(dir.file("test_batch.bin"), bytes);
    const std::string message = inputErrorMessage([&] { loadCifar10(dir.str()); });
    EXPECT_CONTAINS(message, dir.file("test_batch.bin"));
    EXPECT_CONTAINS(message, "label 10 in record 1");
}

TEST(Cifar10LoaderTest, MissingFileAndDirectory) {
    ScratchDirectory dir;
    writeCifarDirectory(dir.str());
    std::filesystem::remove(dir.file("data_batch_5.bin"));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCifar10(dir.str()); }),
                    "missing CIFAR-10 file " + dir.file("data_batch_5.bin"));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCifar10(dir.file("nope")); }),
                    "dataDirectory " + dir.file("nope") + " does not exist");
    // A directory where a batch file belongs, a file where the directory belongs: named as such.
    std::filesystem::create_directory(dir.file("data_batch_5.bin"));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCifar10(dir.str()); }),
                    "cannot open CIFAR-10 file " + dir.file("data_batch_5.bin") + ": it is a directory, not a file");
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCifar10(dir.file("test_batch.bin")); }),
                    dir.file("test_batch.bin") + " is a regular file, not a directory");
}

}  // namespace
}  // namespace cohort::data
