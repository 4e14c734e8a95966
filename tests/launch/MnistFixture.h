#pragma once
// A small learnable MNIST-format data set for tests that run the cohort binary: class c lights
// up band c of the image, so a tiny MLP reaches high accuracy in an epoch or two.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/DataTestSupport.h"

namespace cohort::testing_support {

inline void writeFixture(const std::string& directory, std::uint32_t train, std::uint32_t test, bool gzip) {
    std::mt19937 generator(5);
    auto write = [&](const std::string& prefix, std::uint32_t count) {
        std::vector<std::uint8_t> images(std::size_t(count) * 784), labels(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            const auto label = std::uint8_t(generator() % 10);
            labels[i] = label;
            for (int p = 0; p < 784; ++p) {
                const bool band = (p / 28) / 3 == label;
                images[std::size_t(i) * 784 + std::size_t(p)] = std::uint8_t((band ? 160 : 0) + generator() % 90);
            }
        }
        const auto imageBytes = data::testing_support::makeIdx({count, 28, 28}, images, 0x08);
        const auto labelBytes = data::testing_support::makeIdx({count}, labels, 0x08);
        if (gzip) {
            data::testing_support::writeGzip(directory + "/" + prefix + "-images-idx3-ubyte.gz", imageBytes);
            data::testing_support::writeGzip(directory + "/" + prefix + "-labels-idx1-ubyte.gz", labelBytes);
        } else {
            data::testing_support::writeBytes(directory + "/" + prefix + "-images-idx3-ubyte", imageBytes);
            data::testing_support::writeBytes(directory + "/" + prefix + "-labels-idx1-ubyte", labelBytes);
        }
    };
    write("train", train);
    write("t10k", test);
}

}  // namespace cohort::testing_support
