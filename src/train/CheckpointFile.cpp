#include "src/train/CheckpointFile.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "src/core/AtomicFile.h"
#include "src/core/FileKind.h"
#include "src/core/JsonLimits.h"

namespace cohort::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kFormat = "cohort-checkpoint";
constexpr const char* kHeaderCrcKey = "crc32.header";
constexpr std::uint64_t kMaxHeaderBytes = 64ull << 20;

const char* dtypeName(kernels::DType dtype) { return dtype == kernels::DType::Float64 ? "F64" : "F32"; }

std::string hex32(std::uint32_t value) {
    char text[9];
    std::snprintf(text, sizeof text, "%08x", value);
    return text;
}

std::uint32_t crc(const void* data, std::size_t bytes) {
    uLong value = crc32(0L, Z_NULL, 0);
    const auto* at = static_cast<const Bytef*>(data);
    while (bytes > 0) {  // zlib takes uInt lengths
        const uInt chunk = uInt(std::min<std::size_t>(bytes, 1u << 30));
        value = crc32(value, at, chunk);
        at += chunk;
        bytes -= chunk;
    }
    return std::uint32_t(value);
}

// The position of the 8 digits of crc32.header in a header's text.
std::size_t headerCrcDigits(const std::string& header) {
    const std::string key = std::string("\"") + kHeaderCrcKey + "\":\"";
    const auto at = header.find(key);
    if (at == std::string::npos || at + key.size() + 8 > header.size()) return std::string::npos;
    return at + key.size();
}

[[noreturn]] void corrupt(const std::string& source, const std::string& what) {
    throw CheckpointError("checkpoint " + source + ": " + what);
}

}  // namespace

std::int64_t CheckpointTensor::elementCount() const {
    std::int64_t count = 1;
    for (std::int64_t extent : shape) count *= extent;
    return count;
}

const CheckpointTensor* CheckpointFile::find(const std::string& name) const {
    for (const auto& tensor : tensors) {
        if (tensor.name == name) return &tensor;
    }
    return nullptr;
}

const std::string& CheckpointFile::value(const std::string& key, const std::string& source) const {
    const auto found = metadata.find(key);
    if (found == metadata.end()) corrupt(source, "metadata '" + key + "' is missing");
    return found->second;
}

std::vector<unsigned char> encodeCheckpoint(const CheckpointFile& file) {
    Json header = Json::object();
    Json metadata = Json::object();
    for (const auto& [key, value] : file.metadata) metadata[key] = value;
    metadata["format"] = kFormat;
    metadata["format_version"] = std::to_string(kCheckpointFormatVersion);
    std::uint64_t offset = 0;
    for (const auto& tensor : file.tensors) {
        if (tensor.name.empty() || tensor.name == "__metadata__" || header.contains(tensor.name)) {
            throw std::invalid_argument("checkpoint tensor name '" + tensor.name + "' is empty, reserved or repeated");
        }
        if (tensor.bytes.size() != std::size_t(tensor.elementCount()) * kernels::sizeOf(tensor.dtype)) {
            throw std::invalid_argument("checkpoint tensor '" + tensor.name + "' has " + std::to_string(tensor.bytes.size()) +
                                        " bytes for its shape");
        }
        header[tensor.name] = {{"dtype", dtypeName(tensor.dtype)},
                               {"shape", tensor.shape},
                               {"data_offsets", {offset, offset + tensor.bytes.size()}}};
        offset += tensor.bytes.size();
        metadata["crc32." + tensor.name] = hex32(crc(tensor.bytes.data(), tensor.bytes.size()));
    }
    metadata[kHeaderCrcKey] = "00000000";
    header["__metadata__"] = metadata;
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // data starts 8-byte aligned
    const std::size_t digits = headerCrcDigits(text);
    const std::string sum = hex32(crc(text.data(), text.size()));
    text.replace(digits, 8, sum);

    std::vector<unsigned char> bytes(8 + text.size() + offset);
    const std::uint64_t length = text.size();
    for (int i = 0; i < 8; ++i) bytes[std::size_t(i)] = static_cast<unsigned char>(length >> (8 * i));
    std::memcpy(bytes.data() + 8, text.data(), text.size());
    std::size_t at = 8 + text.size();
    for (const auto& tensor : file.tensors) {
        if (!tensor.bytes.empty()) std::memcpy(bytes.data() + at, tensor.bytes.data(), tensor.bytes.size());
        at += tensor.bytes.size();
    }
    return bytes;
}

namespace {

// The header's length, from the file's first 8 bytes (little-endian), checked against the file.
std::uint64_t headerLength(const std::vector<unsigned char>& bytes, const std::string& source) {
    if (bytes.size() < 8) corrupt(source, "truncated (" + std::to_string(bytes.size()) + " bytes, not even a header length)");
    std::uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= std::uint64_t(bytes[std::size_t(i)]) << (8 * i);
    if (length > kMaxHeaderBytes) corrupt(source, "not a checkpoint (header length " + std::to_string(length) + ")");
    if (length > bytes.size() - 8) {
        corrupt(source, "truncated (header of " + std::to_string(length) + " bytes, file of " + std::to_string(bytes.size()) + ")");
    }
    return length;
}

// The header as a JSON object with a __metadata__ object.
Json parseHeader(const std::string& text, const std::string& source) {
    try {
        checkJsonNesting(text, "its header");
    } catch (const InputError& error) {
        corrupt(source, std::string("not a checkpoint (") + error.what() + ")");
    }
    Json header;
    try {
        header = Json::parse(text);
    } catch (const Json::exception&) {
        corrupt(source, "not a checkpoint (its header is not JSON)");
    }
    if (!header.is_object() || !header.contains("__metadata__") || !header["__metadata__"].is_object()) {
        corrupt(source, "not a cohort checkpoint (no __metadata__)");
    }
    return header;
}

std::map<std::string, std::string> readMetadata(const Json& header, const std::string& source) {
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : header["__metadata__"].items()) {
        if (!value.is_string()) corrupt(source, "metadata '" + key + "' is not a string");
        metadata[key] = value.get<std::string>();
    }
    return metadata;
}

// A cohort checkpoint of a format version this build reads. A missing key reads as empty (operator[]
// adds it; decodeCheckpoint leaves both keys out of the file's metadata).
void checkFormat(std::map<std::string, std::string>& metadata, const std::string& source) {
    if (metadata["format"] != kFormat) corrupt(source, "not a cohort checkpoint (format '" + metadata["format"] + "')");
    int version = 0;
    try {
        version = std::stoi(metadata["format_version"]);
    } catch (const std::exception&) {
        corrupt(source, "format_version '" + metadata["format_version"] + "' is not a number");
    }
    if (version > kCheckpointFormatVersion) {
        corrupt(source, "written by a newer cohort (format version " + std::to_string(version) +
                            "; this one reads up to " + std::to_string(kCheckpointFormatVersion) + ")");
    }
    if (version < 1) corrupt(source, "format version " + std::to_string(version) + " is not one cohort wrote");
}

// crc32.header is the checksum of the header with its own 8 digits written as zeros.
void checkHeaderChecksum(std::string text, const std::string& source) {
    const std::size_t digits = headerCrcDigits(text);
    if (digits == std::string::npos) corrupt(source, "its header has no crc32.header");
    const std::string stored = text.substr(digits, 8);
    text.replace(digits, 8, "00000000");
    if (hex32(crc(text.data(), text.size())) != stored) corrupt(source, "header checksum mismatch (the file is corrupt)");
}

// The tensors' names by their first data offset, each entry checked for its fields.
std::vector<std::pair<std::uint64_t, std::string>> tensorsInOffsetOrder(const Json& header, const std::string& source) {
    std::vector<std::pair<std::uint64_t, std::string>> order;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
            corrupt(source, "tensor '" + name + "' lacks dtype, shape or data_offsets");
        }
        const auto& offsets = entry["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
            corrupt(source, "tensor '" + name + "' has bad data_offsets");
        }
        order.emplace_back(offsets[0].get<std::uint64_t>(), name);
    }
    std::sort(order.begin(), order.end());
    return order;
}

kernels::DType tensorDtype(const Json& entry, const std::string& name, const std::string& source) {
    const std::string dtype = entry["dtype"].is_string() ? entry["dtype"].get<std::string>() : "";
    if (dtype == "F32") return kernels::DType::Float32;
    if (dtype == "F64") return kernels::DType::Float64;
    corrupt(source, "tensor '" + name + "' has dtype '" + dtype + "' (cohort writes F32 and F64)");
}

// Fills `shape` and returns its element count; each extent and the count stay within 2^40.
std::uint64_t readShape(const Json& entry, const std::string& name, const std::string& source,
                        std::vector<std::int64_t>& shape) {
    if (!entry["shape"].is_array()) corrupt(source, "tensor '" + name + "' has a bad shape");
    std::uint64_t elements = 1;
    for (const auto& extent : entry["shape"]) {
        if (!extent.is_number_unsigned() || extent.get<std::uint64_t>() > (1ull << 40)) {
            corrupt(source, "tensor '" + name + "' has a bad shape");
        }
        shape.push_back(extent.get<std::int64_t>());
        elements *= extent.get<std::uint64_t>();
        if (elements > (1ull << 40)) corrupt(source, "tensor '" + name + "' has a bad shape");
    }
    return elements;
}

// Every tensor, in offset order, from the `dataBytes` bytes at `data` that follow the header:
// safetensors' tensors are contiguous, and each must match its shape and its checksum.
std::vector<CheckpointTensor> readTensors(const Json& header, const std::map<std::string, std::string>& metadata,
                                          const unsigned char* data, std::uint64_t dataBytes,
                                          const std::string& source) {
    std::vector<CheckpointTensor> tensors;
    std::uint64_t expected = 0;
    for (const auto& [begin, name] : tensorsInOffsetOrder(header, source)) {
        const auto& entry = header[name];
        CheckpointTensor tensor;
        tensor.name = name;
        tensor.dtype = tensorDtype(entry, name, source);
        const std::uint64_t elements = readShape(entry, name, source, tensor.shape);
        const std::uint64_t end = entry["data_offsets"][1].get<std::uint64_t>();
        if (begin != expected || end < begin || end - begin != elements * kernels::sizeOf(tensor.dtype)) {
            corrupt(source, "tensor '" + name + "' has data_offsets that do not match its shape or its neighbours");
        }
        if (end > dataBytes) {
            corrupt(source, "truncated (tensor '" + name + "' ends at byte " + std::to_string(end) + " of " +
                                std::to_string(dataBytes) + " bytes of data)");
        }
        expected = end;
        tensor.bytes.assign(data + begin, data + end);
        const auto sum = metadata.find("crc32." + name);
        if (sum == metadata.end()) corrupt(source, "tensor '" + name + "' has no checksum");
        if (hex32(crc(tensor.bytes.data(), tensor.bytes.size())) != sum->second) {
            corrupt(source, "checksum mismatch in tensor '" + name + "' (the file is corrupt)");
        }
        tensors.push_back(std::move(tensor));
    }
    if (expected != dataBytes) {
        corrupt(source, std::to_string(dataBytes - expected) + " bytes after the last tensor (the file is corrupt)");
    }
    return tensors;
}

}  // namespace

CheckpointFile decodeCheckpoint(const std::vector<unsigned char>& bytes, const std::string& source) {
    const std::uint64_t length = headerLength(bytes, source);
    std::string text(reinterpret_cast<const char*>(bytes.data()) + 8, std::size_t(length));
    const Json header = parseHeader(text, source);
    std::map<std::string, std::string> metadata = readMetadata(header, source);
    checkFormat(metadata, source);
    checkHeaderChecksum(std::move(text), source);

    CheckpointFile file;
    file.tensors = readTensors(header, metadata, bytes.data() + 8 + length, bytes.size() - 8 - length, source);
    for (auto& [key, value] : metadata) {
        if (key == "format" || key == "format_version" || key.rfind("crc32.", 0) == 0) continue;
        file.metadata[key] = value;
    }
    return file;
}

CheckpointFile readCheckpointFile(const std::string& path) { return decodeCheckpoint(readCheckpointBytes(path), path); }

std::vector<unsigned char> readCheckpointBytes(const std::string& path) {
    // A device could be endless or block: refused. A FIFO is read, as a stream (process
    // substitution: `--load <(curl ...)`), the one documented exception.
    if (const std::string why = whyNotRegularFile(path);
        !why.empty() && why != "does not exist" && !why.starts_with("is a FIFO"))
        throw CheckpointError("cannot read checkpoint " + path + ": it " + why);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CheckpointError("cannot read checkpoint " + path + ": " + std::strerror(errno));
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw CheckpointError("cannot read checkpoint " + path + ": " + std::strerror(errno));
    return bytes;
}

void writeCheckpointFile(const std::string& path, const CheckpointFile& file) {
    std::error_code ignored;
    if (fs::exists(path, ignored) && !fs::is_regular_file(path, ignored)) {
        // Never rename over a device, a pipe or a directory.
        throw std::runtime_error("cannot write checkpoint " + path + ": it exists and is not a regular file");
    }
    const std::vector<unsigned char> bytes = encodeCheckpoint(file);
    replaceFileAtomically(path, bytes.data(), bytes.size(), "checkpoint " + path);
}

}  // namespace cohort::train
