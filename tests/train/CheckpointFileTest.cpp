// The checkpoint file: safetensors layout, per-section checksums, atomic writes, clear refusals.
#include "src/train/CheckpointFile.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>
#include <zlib.h>

namespace cohort::train {
namespace {

CheckpointFile sample() {
    CheckpointFile file;
    file.metadata["state"] = R"({"epoch":1,"iteration":40})";
    file.metadata["settings"] = "lr=0.001\nseed=1\n";
    CheckpointTensor weights{"layers.0.weight", kernels::DType::Float32, {2, 3}, {}};
    const float values[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, -7.0f};
    weights.bytes.assign(reinterpret_cast<const unsigned char*>(values), reinterpret_cast<const unsigned char*>(values) + sizeof values);
    CheckpointTensor scalars{"moments", kernels::DType::Float64, {2}, {}};
    const double moments[2] = {0.125, -1e300};
    scalars.bytes.assign(reinterpret_cast<const unsigned char*>(moments), reinterpret_cast<const unsigned char*>(moments) + sizeof moments);
    file.tensors = {weights, scalars};
    return file;
}

std::string refusal(const std::vector<unsigned char>& bytes) {
    try {
        decodeCheckpoint(bytes, "test.safetensors");
    } catch (const CheckpointError& error) {
        return error.what();
    }
    return "accepted";
}

TEST(CheckpointFile, RoundTripsTensorsAndMetadataInTheSafetensorsLayout) {
    const CheckpointFile file = sample();
    const std::vector<unsigned char> bytes = encodeCheckpoint(file);
    // 8-byte little-endian header length, then JSON, data 8-byte aligned.
    std::uint64_t length = 0;
    std::memcpy(&length, bytes.data(), 8);
    EXPECT_EQ((8 + length) % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + length + 6 * 4 + 2 * 8);
    const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, length);
    EXPECT_NE(header.find(R"("layers.0.weight":{"data_offsets":[0,24],"dtype":"F32","shape":[2,3]})"), std::string::npos) << header;
    EXPECT_NE(header.find(R"("format":"cohort-checkpoint")"), std::string::npos) << header;

    const CheckpointFile back = decodeCheckpoint(bytes, "memory");
    EXPECT_EQ(back.metadata, file.metadata);
    ASSERT_EQ(back.tensors.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(back.tensors[i].name, file.tensors[i].name);
        EXPECT_EQ(back.tensors[i].shape, file.tensors[i].shape);
        EXPECT_EQ(back.tensors[i].dtype, file.tensors[i].dtype);
        EXPECT_EQ(back.tensors[i].bytes, file.tensors[i].bytes);
    }
    EXPECT_EQ(back.value("settings", "memory"), "lr=0.001\nseed=1\n");
    EXPECT_THROW(back.value("absent", "memory"), CheckpointError);
}

TEST(CheckpointFile, EveryFlippedByteAndEveryTruncationIsRefused) {
    const std::vector<unsigned char> bytes = encodeCheckpoint(sample());
    for (std::size_t at = 0; at < bytes.size(); ++at) {
        std::vector<unsigned char> flipped = bytes;
        flipped[at] ^= 0x01;
        const std::string message = refusal(flipped);
        EXPECT_NE(message, "accepted") << "byte " << at;
        EXPECT_EQ(message.rfind("checkpoint test.safetensors: ", 0), 0u) << message;
    }
    for (std::size_t size = 0; size < bytes.size(); ++size) {
        const std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(size));
        EXPECT_NE(refusal(cut), "accepted") << "size " << size;
    }
    std::vector<unsigned char> longer = bytes;
    longer.push_back(0);
    EXPECT_NE(refusal(longer).find("after the last tensor"), std::string::npos);
    EXPECT_NE(refusal(std::vector<unsigned char>(bytes.begin(), bytes.end() - 4)).find("truncated"), std::string::npos);
}

TEST(CheckpointFile, ANewerFormatVersionIsRefusedNamingBoth) {
    std::vector<unsigned char> bytes = encodeCheckpoint(sample());
    std::uint64_t length = 0;
    std::memcpy(&length, bytes.data(), 8);
    std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, length);
    const auto at = header.find(R"("format_version":"1")");
    ASSERT_NE(at, std::string::npos);
    header.replace(at, 20, R"("format_version":"7")");
    // Re-sign the header so that only the version is wrong.
    const auto digits = header.find(R"("crc32.header":")") + 16;
    header.replace(digits, 8, "00000000");
    char sum[9];
    std::snprintf(sum, sizeof sum, "%08lx", crc32(crc32(0L, nullptr, 0), reinterpret_cast<const Bytef*>(header.data()), uInt(header.size())));
    header.replace(digits, 8, sum);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    EXPECT_NE(refusal(bytes).find("written by a newer cohort (format version 7; this one reads up to 1)"), std::string::npos)
        << refusal(bytes);
}

TEST(CheckpointFile, OtherFilesAreNotCheckpoints) {
    const std::string text = "hello, this is not a checkpoint at all";
    EXPECT_NE(refusal(std::vector<unsigned char>(text.begin(), text.end())).find("not a checkpoint"), std::string::npos);
    // A header nested a hundred thousand levels deep is refused before any parser recurses into it.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    std::vector<unsigned char> nested(8, 0);
    for (int i = 0; i < 8; ++i) nested[std::size_t(i)] = static_cast<unsigned char>(deep.size() >> (8 * i));
    nested.insert(nested.end(), deep.begin(), deep.end());
    EXPECT_NE(refusal(nested).find("nested deeper than 64 levels"), std::string::npos) << refusal(nested);
    CheckpointFile plain;
    EXPECT_NO_THROW(decodeCheckpoint(encodeCheckpoint(plain), "empty"));
}

TEST(CheckpointFile, WritesAtomicallyAndLeavesTheOldFileWhenItCannot) {
    const auto directory = std::filesystem::temp_directory_path() / ("cohort-checkpoint-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    const std::string path = (directory / "run.safetensors").string();
    writeCheckpointFile(path, sample());
    EXPECT_EQ(readCheckpointFile(path).metadata.at("state"), sample().metadata.at("state"));
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        EXPECT_EQ(entry.path().filename(), "run.safetensors");  // no temporary left behind
    }
    // A directory in the way of the rename: the write fails and the old file is untouched.
    const std::string blocked = (directory / "blocked").string();
    std::filesystem::create_directories(blocked + "/inside");
    EXPECT_THROW(writeCheckpointFile(blocked, sample()), std::runtime_error);
    EXPECT_TRUE(std::filesystem::is_directory(blocked + "/inside"));
    EXPECT_THROW(readCheckpointFile((directory / "absent").string()), CheckpointError);
    std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace cohort::train
