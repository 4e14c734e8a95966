#include "src/data/FileContents.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "src/core/Errors.h"
#include "src/core/FileKind.h"

namespace cohort::data {
namespace {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};

[[noreturn]] void throwBad(std::string_view kind, const std::string& path,
                           const std::string& problem) {
    throw InputError("bad " + std::string(kind) + " " + path + ": " + problem);
}

// The gzip trailer's ISIZE (uncompressed size mod 2^32) of the last member: a size hint only,
// capped at deflate's maximum ratio (1032:1) so a corrupt trailer cannot trigger a huge allocation.
std::size_t gzipSizeHint(const std::vector<std::uint8_t>& compressed) {
    if (compressed.size() < 18) return 0;
    const std::uint8_t* tail = compressed.data() + compressed.size() - 4;
    const std::size_t trailerSize =
        static_cast<std::size_t>(tail[0]) | static_cast<std::size_t>(tail[1]) << 8 |
        static_cast<std::size_t>(tail[2]) << 16 | static_cast<std::size_t>(tail[3]) << 24;
    return std::min(trailerSize, compressed.size() * 1032);
}

}  // namespace

bool hasGzipMagic(const std::vector<std::uint8_t>& bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<std::uint8_t> readFileBytes(const std::string& path, std::string_view kind) {
    const std::string what = std::string(kind) + " " + path;
    // Named for what it is, before an open that could block (a FIFO) or never end (a device).
    if (const std::string why = whyNotRegularFile(path); !why.empty() && why != "does not exist")
        throw InputError("cannot open " + what + ": it " + why);
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw InputError("cannot open " + what + ": " + std::strerror(errno));
    if (std::fseek(file.get(), 0, SEEK_END) != 0)
        throw InputError("cannot read " + what + ": " + std::strerror(errno));
    const long size = std::ftell(file.get());
    if (size < 0) throw InputError("cannot read " + what + ": " + std::strerror(errno));
    std::rewind(file.get());
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), file.get());
    if (got != bytes.size() || std::ferror(file.get()))
        throw InputError("cannot read " + what + ": read " + std::to_string(got) + " of " +
                         std::to_string(bytes.size()) + " bytes");
    return bytes;
}

std::vector<std::uint8_t> inflateGzip(const std::vector<std::uint8_t>& compressed, const std::string& path,
                                      std::string_view kind, const DeclaredSize& declaredSize) {
    std::vector<std::uint8_t> output;
    std::size_t allowed = std::numeric_limits<std::size_t>::max();  // output beyond it is refused
    // The trailer's size is the attacker's to choose: with a header to ask, start small.
    output.resize(declaredSize ? std::size_t(1) << 16 : std::max<std::size_t>(gzipSizeHint(compressed), 1 << 16));
    std::size_t produced = 0;
    std::size_t consumed = 0;
    // One or more concatenated gzip members (as gzip(1) and gzread accept).
    while (consumed < compressed.size()) {
        if (consumed > 0 && !(compressed.size() - consumed >= 2 && compressed[consumed] == 0x1f &&
                              compressed[consumed + 1] == 0x8b))
            throwBad(kind, path,
                     "trailing garbage after gzip stream (" +
                         std::to_string(compressed.size() - consumed) + " bytes)");
        z_stream stream{};
        if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
            throw std::runtime_error("zlib inflateInit2 failed for " + path);
        int status = Z_OK;
        while (status != Z_STREAM_END) {
            if (declaredSize && allowed == std::numeric_limits<std::size_t>::max()) {
                allowed = declaredSize(std::span<const std::uint8_t>(output.data(), produced));
            }
            if (produced > allowed) {
                inflateEnd(&stream);
                throwBad(kind, path, "inflates beyond the " + std::to_string(allowed) + " bytes its header declares");
            }
            if (produced == output.size()) {
                output.resize(allowed == std::numeric_limits<std::size_t>::max()
                                  ? output.size() * 2
                                  : std::max(output.size() + 1, std::min(output.size() * 2, allowed + 1)));
            }
            const std::size_t inputLeft = compressed.size() - consumed;
            // Never inflate more than one byte past what the header allows.
            const std::size_t outputLeft =
                std::min(output.size() - produced, allowed == std::numeric_limits<std::size_t>::max()
                                                       ? output.size() - produced
                                                       : allowed + 1 - std::min(allowed + 1, produced));
            stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);
            stream.avail_in = static_cast<uInt>(std::min<std::size_t>(inputLeft, UINT_MAX));
            stream.next_out = output.data() + produced;
            stream.avail_out = static_cast<uInt>(std::min<std::size_t>(outputLeft, UINT_MAX));
            const uInt availIn = stream.avail_in;
            const uInt availOut = stream.avail_out;
            status = inflate(&stream, Z_NO_FLUSH);
            consumed += availIn - stream.avail_in;
            produced += availOut - stream.avail_out;
            if (status == Z_STREAM_END) break;
            if (status == Z_BUF_ERROR && stream.avail_in == 0 && consumed == compressed.size()) {
                inflateEnd(&stream);
                throwBad(kind, path,
                         "truncated gzip stream (compressed data ends after " +
                             std::to_string(compressed.size()) + " bytes)");
            }
            if (status != Z_OK && status != Z_BUF_ERROR) {
                const std::string message =
                    stream.msg ? stream.msg : "error " + std::to_string(status);
                inflateEnd(&stream);
                throwBad(kind, path, "corrupt gzip data (zlib: " + message + ")");
            }
        }
        inflateEnd(&stream);
    }
    output.resize(produced);
    return output;
}

std::vector<std::uint8_t> readFileMaybeGzip(const std::string& path, std::string_view kind,
                                            const DeclaredSize& declaredSize) {
    std::vector<std::uint8_t> bytes = readFileBytes(path, kind);
    if (hasGzipMagic(bytes)) return inflateGzip(bytes, path, kind, declaredSize);
    return bytes;
}

}  // namespace cohort::data
