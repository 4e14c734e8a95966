#pragma once
// Reads a whole data file into memory in one go, inflating it when it is gzip-compressed.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::data {

// True when the bytes start with the gzip magic 1f 8b.
bool hasGzipMagic(const std::vector<std::uint8_t>& bytes);

// Reads the file at `path` whole. Throws cohort::InputError (one line naming the file):
// "cannot open <kind> <path>: <reason>" when it cannot be read.
std::vector<std::uint8_t> readFileBytes(const std::string& path, std::string_view kind);

// Inflates gzip data (one or more concatenated members) with zlib. Throws cohort::InputError
// "bad <kind> <path>: corrupt gzip data (zlib: ...)" or "...: truncated gzip stream ...".
std::vector<std::uint8_t> inflateGzip(const std::vector<std::uint8_t>& compressed,
                                      const std::string& path, std::string_view kind);

// readFileBytes, then inflateGzip when the file starts with the gzip magic.
std::vector<std::uint8_t> readFileMaybeGzip(const std::string& path, std::string_view kind);

}  // namespace cohort::data
