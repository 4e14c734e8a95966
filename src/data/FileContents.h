#pragma once
// Reads a whole data file into memory in one go, inflating it when it is gzip-compressed.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::data {

// True when the bytes start with the gzip magic 1f 8b.
bool hasGzipMagic(const std::vector<std::uint8_t>& bytes);

// Reads the file at `path` whole. Throws cohort::InputError (one line naming the file):
// "cannot open <kind> <path>: <reason>" when it cannot be read, and at once (before any open
// that could block) when it is a directory, a FIFO, a device or a socket.
std::vector<std::uint8_t> readFileBytes(const std::string& path, std::string_view kind);

// The size a format's own header declares, from the first bytes of the data (SIZE_MAX while too
// few bytes are in to tell): inflating stops as soon as the output passes it, so a small file that
// inflates to gigabytes (a decompression bomb) is refused without ever being inflated whole.
using DeclaredSize = std::function<std::size_t(std::span<const std::uint8_t> start)>;

// Inflates gzip data (one or more concatenated members) with zlib. Throws cohort::InputError
// "bad <kind> <path>: corrupt gzip data (zlib: ...)", "...: truncated gzip stream ..." or
// "...: inflates beyond the N bytes its header declares".
std::vector<std::uint8_t> inflateGzip(const std::vector<std::uint8_t>& compressed, const std::string& path,
                                      std::string_view kind, const DeclaredSize& declaredSize = {});

// readFileBytes, then inflateGzip when the file starts with the gzip magic.
std::vector<std::uint8_t> readFileMaybeGzip(const std::string& path, std::string_view kind,
                                            const DeclaredSize& declaredSize = {});

}  // namespace cohort::data
