#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "src/data/MnistLoader.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

// Writes a small MNIST-format directory: `trainCount` / `testCount` 4x3 images and labels.
void writeMnistDirectory(const ScratchDirectory& dir, std::uint32_t trainCount,
                         std::uint32_t testCount, bool gzip) {
    const auto write = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) {
        if (gzip)
            writeGzip(dir.file(name + ".gz"), bytes);
        else
            writeBytes(dir.file(name), bytes);
    };
    for (const auto& [prefix, count] :
         {std::pair{std::string("train"), trainCount}, std::pair{std::string("t10k"), testCount}}) {
        std::vector<std::uint8_t> pixels(count * 12);
        for (std::size_t i = 0; i < pixels.size(); ++i)
            pixels[i] = static_cast<std::uint8_t>(i * 17);
        std::vector<std::uint8_t> labels(count);
        for (std::size_t i = 0; i < labels.size(); ++i)
            labels[i] = static_cast<std::uint8_t>(i % 10);
        write(prefix + "-images-idx3-ubyte", makeIdx({count, 4, 3}, pixels));
        write(prefix + "-labels-idx1-ubyte", makeIdx({count}, labels));
    }
}

TEST(MnistLoaderTest, LoadsPlainFiles) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 12, 5, false);
    const DatasetSplits splits = loadMnistFormat(dir.str(), "tiny-mnist");
    EXPECT_EQ(splits.train.count, 12u);
    EXPECT_EQ(splits.test.count, 5u);
    EXPECT_EQ(splits.train.sampleShape, (std::vector<std::size_t>{1, 4, 3}));
    EXPECT_EQ(splits.train.featureSize, 12u);
    EXPECT_EQ(splits.train.numClasses, 10);
    EXPECT_EQ(splits.train.name, "tiny-mnist");
    ASSERT_EQ(splits.train.features.size(), 12u * 12u);
    EXPECT_FLOAT_EQ(splits.train.features[1], 17.0f / 255.0f);
    EXPECT_FLOAT_EQ(splits.train.sample(1)[0], static_cast<float>((12 * 17) % 256) / 255.0f);
    EXPECT_EQ(splits.train.labels[11], 1);
    EXPECT_EQ(splits.test.labels[4], 4);
}

TEST(MnistLoaderTest, LoadsGzipFiles) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 7, 3, true);
    const DatasetSplits splits = loadMnistFormat(dir.str(), "gz");
    EXPECT_EQ(splits.train.count, 7u);
    EXPECT_EQ(splits.test.count, 3u);
}

TEST(MnistLoaderTest, PrefersPlainFileOverGzip) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 7, 3, true);
    writeMnistDirectory(dir, 9, 3, false);
    EXPECT_EQ(loadMnistFormat(dir.str(), "both").train.count, 9u);
}

TEST(MnistLoaderTest, MissingDirectorySaysHowToFixIt) {
    const std::string missing = "/nonexistent/cohort-data-dir";
    EXPECT_EQ(inputErrorMessage([&] { loadMnistFormat(missing, "fashion-mnist"); }),
              "dataDirectory " + missing + " does not exist; install the dataset-fashion-mnist package or pass another one");
}

TEST(MnistLoaderTest, MissingFileIsNamed) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 4, 2, false);
    std::filesystem::remove(dir.file("t10k-labels-idx1-ubyte"));
    const std::string message = inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); });
    EXPECT_CONTAINS(message, dir.file("t10k-labels-idx1-ubyte"));
    EXPECT_CONTAINS(message, "missing data file");
    EXPECT_TRUE(isOneLine(message));
}

TEST(MnistLoaderTest, CountMismatchNamesBothCountsAndFiles) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 4, 2, false);
    writeBytes(dir.file("train-labels-idx1-ubyte"), makeIdx({3}, {0, 1, 2}));
    const std::string message = inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); });
    EXPECT_CONTAINS(message, "4 images in " + dir.file("train-images-idx3-ubyte"));
    EXPECT_CONTAINS(message, "3 labels in " + dir.file("train-labels-idx1-ubyte"));
}

TEST(MnistLoaderTest, LabelOutOfRange) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 4, 2, false);
    writeBytes(dir.file("t10k-labels-idx1-ubyte"), makeIdx({2}, {3, 10}));
    const std::string message = inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); });
    EXPECT_CONTAINS(message, dir.file("t10k-labels-idx1-ubyte"));
    EXPECT_CONTAINS(message, "label 10 at index 1 is out of range");
}

TEST(MnistLoaderTest, RejectsWrongDimensionality) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 4, 2, false);
    writeBytes(dir.file("train-images-idx3-ubyte"),
               makeIdx({4, 12}, std::vector<std::uint8_t>(48)));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); }),
                    "expected 3 dimensions");
    writeMnistDirectory(dir, 4, 2, false);
    writeBytes(dir.file("train-labels-idx1-ubyte"), makeIdx({4, 1}, {0, 1, 2, 3}));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); }),
                    "expected 1 dimension");
    // A header whose dimension count (byte 3) is wrong: named as such, not as "trailing bytes".
    writeMnistDirectory(dir, 4, 2, false);
    std::vector<std::uint8_t> images = makeIdx({4, 2, 2}, std::vector<std::uint8_t>(16));
    images[3] = 1;
    writeBytes(dir.file("train-images-idx3-ubyte"), images);
    const std::string message = inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); });
    EXPECT_CONTAINS(message, "its header declares 1 dimension (byte 3), expected 3 dimensions (count, rows, columns)");
    EXPECT_EQ(message.find("trailing"), std::string::npos) << message;
    // Gzipped, and declaring sizes whose product is far below what follows: the dimension count is
    // named before the data inflates beyond the size the (misread) header declares.
    writeMnistDirectory(dir, 4, 2, false);
    std::remove(dir.file("train-images-idx3-ubyte").c_str());
    std::vector<std::uint8_t> misread = makeIdx({4, 28, 28}, std::vector<std::uint8_t>(4 * 28 * 28));
    misread[3] = 1;
    writeGzip(dir.file("train-images-idx3-ubyte.gz"), misread);
    const std::string gzipped = inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); });
    EXPECT_CONTAINS(gzipped, "its header declares 1 dimension (byte 3), expected 3 dimensions");
    EXPECT_EQ(gzipped.find("inflates beyond"), std::string::npos) << gzipped;
}

TEST(MnistLoaderTest, NamesWhatTheDataDirectoryAndItsFilesAre) {
    ScratchDirectory dir;
    writeMnistDirectory(dir, 4, 2, false);
    const std::string notADirectory = dir.file("train-labels-idx1-ubyte");
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(notADirectory, "m"); }),
                    notADirectory + " is a regular file, not a directory");
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(dir.file("absent"), "mnist"); }),
                    "does not exist; put the four mnist IDX files");
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(dir.file("absent"), "fashion-mnist"); }),
                    "install the dataset-fashion-mnist package");
    std::filesystem::remove(dir.file("train-labels-idx1-ubyte"));
    std::filesystem::create_directory(dir.file("train-labels-idx1-ubyte"));
    EXPECT_CONTAINS(inputErrorMessage([&] { loadMnistFormat(dir.str(), "m"); }), "is a directory, not a file");
}

TEST(MnistLoaderTest, LoadsInstalledFashionMnist) {
    const std::string directory = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::is_directory(directory)) GTEST_SKIP() << directory << " is not installed";
    const auto start = std::chrono::steady_clock::now();
    const DatasetSplits splits = loadMnistFormat(directory, "fashion-mnist");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(splits.train.count, 60000u);
    EXPECT_EQ(splits.test.count, 10000u);
    EXPECT_EQ(splits.train.sampleShape, (std::vector<std::size_t>{1, 28, 28}));
    for (const Dataset* split : {&splits.train, &splits.test}) {
        ASSERT_EQ(split->features.size(), split->count * 784);
        const auto [minLabel, maxLabel] =
            std::minmax_element(split->labels.begin(), split->labels.end());
        EXPECT_EQ(*minLabel, 0);
        EXPECT_EQ(*maxLabel, 9);
        const auto [minPixel, maxPixel] =
            std::minmax_element(split->features.begin(), split->features.end());
        EXPECT_EQ(*minPixel, 0.0f);
        EXPECT_EQ(*maxPixel, 1.0f);
    }
    RecordProperty("load_seconds", std::to_string(seconds));
    std::printf("loaded Fashion-MNIST in %.3f s\n", seconds);
}

}  // namespace
}  // namespace cohort::data
