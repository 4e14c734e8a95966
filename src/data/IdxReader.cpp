#include "src/data/IdxReader.h"

#include <limits>
#include <utility>

#include "src/core/Errors.h"
#include "src/data/FileContents.h"

namespace cohort::data {
namespace {

constexpr std::uint8_t kUnsignedByteType = 0x08;

[[noreturn]] void throwBad(const std::string& path, const std::string& problem) {
    throw InputError("bad IDX file " + path + ": " + problem);
}

const char* typeName(std::uint8_t type) {
    switch (type) {
        case 0x08:
            return "unsigned byte";
        case 0x09:
            return "signed byte";
        case 0x0B:
            return "short";
        case 0x0C:
            return "int";
        case 0x0D:
            return "float";
        case 0x0E:
            return "double";
        default:
            return "unknown";
    }
}

std::string hexByte(std::uint8_t value) {
    static const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[value >> 4] + digits[value & 0xF];
}

// Dimension `d` of an IDX header (big-endian u32 after the 4-byte magic).
std::size_t dimensionAt(const std::uint8_t* bytes, std::size_t d) {
    const std::uint8_t* p = bytes + 4 + 4 * d;
    return std::size_t{p[0]} << 24 | std::size_t{p[1]} << 16 | std::size_t{p[2]} << 8 | std::size_t{p[3]};
}

}  // namespace

namespace {

void checkDimensionCount(std::size_t dimensionCount, const std::string& path, const IdxShape& expected) {
    if (dimensionCount == 0) throwBad(path, "zero dimensions in header");
    if (expected.dimensions != 0 && dimensionCount != expected.dimensions)
        throwBad(path, "its header declares " + std::to_string(dimensionCount) + " dimension" +
                           (dimensionCount == 1 ? "" : "s") + " (byte 3), expected " +
                           std::to_string(expected.dimensions) + " dimension" + (expected.dimensions == 1 ? "" : "s") +
                           " (" + expected.names + ")");
}

}  // namespace

IdxArray parseIdx(std::vector<std::uint8_t> bytes, const std::string& path, const IdxShape& expected) {
    if (bytes.size() < 4)
        throwBad(path, "truncated header (" + std::to_string(bytes.size()) +
                           " bytes; an IDX file starts with a 4-byte magic number)");
    if (bytes[0] != 0 || bytes[1] != 0)
        throwBad(path, "wrong magic number (starts " + hexByte(bytes[0]) + " " + hexByte(bytes[1]) +
                           ", expected 0x00 0x00)");
    const std::uint8_t type = bytes[2];
    if (type != kUnsignedByteType)
        throwBad(path, "unsupported element type " + hexByte(type) + " (" + typeName(type) +
                           "); only 0x08 (unsigned byte) is supported");
    const std::size_t dimensionCount = bytes[3];
    checkDimensionCount(dimensionCount, path, expected);
    const std::size_t headerSize = 4 + 4 * dimensionCount;
    if (bytes.size() < headerSize)
        throwBad(path, "truncated header (" + std::to_string(dimensionCount) + " dimensions need " +
                           std::to_string(headerSize) + " bytes, found " +
                           std::to_string(bytes.size()) + ")");

    IdxArray array;
    array.dims.reserve(dimensionCount);
    std::size_t elementCount = 1;
    for (std::size_t d = 0; d < dimensionCount; ++d) {
        const auto dimension = std::uint32_t(dimensionAt(bytes.data(), d));
        if (dimension == 0) throwBad(path, "dimension " + std::to_string(d) + " is zero");
        if (elementCount > std::numeric_limits<std::size_t>::max() / dimension)
            throwBad(path, "dimensions overflow the addressable size");
        elementCount *= dimension;
        array.dims.push_back(dimension);
    }

    const std::size_t payload = bytes.size() - headerSize;
    if (payload < elementCount)
        throwBad(path, "truncated (expected " + std::to_string(elementCount) +
                           " bytes of data, found " + std::to_string(payload) + ")");
    if (payload > elementCount)
        throwBad(path, "trailing bytes (expected " + std::to_string(elementCount) +
                           " bytes of data, found " + std::to_string(payload) + ")");
    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(headerSize));
    array.data = std::move(bytes);
    return array;
}

std::size_t idxDeclaredSize(std::span<const std::uint8_t> start) {
    constexpr std::size_t unknown = std::numeric_limits<std::size_t>::max();
    if (start.size() < 4) return unknown;
    const std::size_t dimensions = start[3];
    const std::size_t headerSize = 4 + 4 * dimensions;
    if (start.size() < headerSize) return unknown;
    std::size_t total = 1;
    for (std::size_t d = 0; d < dimensions; ++d) {
        const std::size_t dimension = dimensionAt(start.data(), d);
        if (dimension != 0 && total > (unknown - headerSize) / dimension) return unknown;  // parseIdx says why
        total *= dimension;
    }
    return headerSize + total;
}

IdxArray readIdx(const std::string& path, const IdxShape& expected) {
    // A header that declares the wrong number of dimensions is named as such as soon as the first
    // inflated bytes show it, not as a file that inflates beyond its (misread) declared size.
    const auto declaredSize = [&path, &expected](std::span<const std::uint8_t> start) {
        if (start.size() >= 4) checkDimensionCount(start[3], path, expected);
        return idxDeclaredSize(start);
    };
    return parseIdx(readFileMaybeGzip(path, "IDX file", declaredSize), path, expected);
}

}  // namespace cohort::data
