#pragma once
// Test helpers for tests/data: a scratch directory per test and writers for fixture files.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "src/core/Errors.h"

namespace cohort::data::testing_support {

// A fresh directory under the system temp dir, removed at destruction.
class ScratchDirectory {
public:
    ScratchDirectory() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        // The process id keeps concurrent runs of the suite (several checkouts) apart.
        std::string name = "cohort_data_" + std::to_string(::getpid()) + "_";
        if (info) name += std::string(info->test_suite_name()) + "_" + info->name();
        for (char& c : name)
            if (c == '/') c = '_';
        path_ = std::filesystem::temp_directory_path() / name;
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string str() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

inline void writeBytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
}

inline void writeText(const std::string& path, const std::string& text) {
    writeBytes(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

inline std::vector<std::uint8_t> readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void writeGzip(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    if (!bytes.empty()) {
        ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                  static_cast<int>(bytes.size()));
    }
    ASSERT_EQ(gzclose(file), Z_OK);
}

// IDX bytes: magic 00 00 type ndim, big-endian dims, then `data`.
inline std::vector<std::uint8_t> makeIdx(const std::vector<std::uint32_t>& dims,
                                         const std::vector<std::uint8_t>& data,
                                         std::uint8_t type = 0x08) {
    std::vector<std::uint8_t> bytes = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims) {
        bytes.push_back(static_cast<std::uint8_t>(d >> 24));
        bytes.push_back(static_cast<std::uint8_t>(d >> 16));
        bytes.push_back(static_cast<std::uint8_t>(d >> 8));
        bytes.push_back(static_cast<std::uint8_t>(d));
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

// Runs `action`, expects a cohort::InputError, and returns its message (empty if none thrown).
template <typename Action>
std::string inputErrorMessage(Action&& action) {
    try {
        action();
    } catch (const cohort::InputError& error) {
        return error.what();
    } catch (const std::exception& error) {
        ADD_FAILURE() << "expected cohort::InputError, got another exception: " << error.what();
        return {};
    }
    ADD_FAILURE() << "expected cohort::InputError, nothing was thrown";
    return {};
}

// EXPECT_CONTAINS(text, part): gtest assertion that `part` occurs in `text`.
inline ::testing::AssertionResult containsText(const char* textExpression, const char*,
                                               const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << textExpression << " is \"" << text << "\"\nwhich does not contain \"" << part << "\"";
}
#define EXPECT_CONTAINS(text, part) \
    EXPECT_PRED_FORMAT2(::cohort::data::testing_support::containsText, text, part)

// A message is one line: no newline characters.
inline bool isOneLine(const std::string& message) {
    return message.find('\n') == std::string::npos;
}

}  // namespace cohort::data::testing_support
