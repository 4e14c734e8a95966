#pragma once
// CheckpointFile: one checkpoint on disk, in the safetensors layout so other tools read the
// tensors without cohort (safetensors.numpy/torch.load_file, or NumPy and a JSON parser):
//
//   [8 bytes: N, little-endian u64] [N bytes: JSON header, space-padded to 8-byte alignment]
//   [tensor data: raw little-endian, contiguous, in header order]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// into the data) and "__metadata__" to a map of strings. cohort's own metadata:
//   format = "cohort-checkpoint", format_version = "1"       (a newer version is refused)
//   crc32.<tensor> = 8 hex digits                            (zlib crc32 of that tensor's bytes)
//   crc32.header   = 8 hex digits                            (crc32 of the header text with
//                                                             these 8 digits written as zeros)
// so every section — each tensor, and the metadata with the run's state — is checked on read.
//
// Writes are atomic: a temporary file in the target's directory, fsync, rename over the target,
// fsync of the directory. A reader never sees half a checkpoint; a crash leaves the previous one.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "src/core/Errors.h"

namespace cohort::train {

inline constexpr int kCheckpointFormatVersion = 1;

// A checkpoint that cannot be used: unreadable, truncated, corrupt, from a newer cohort, or
// not a checkpoint at all. The message names the file and what is wrong.
class CheckpointError : public InputError {
public:
    explicit CheckpointError(const std::string& message) : InputError(message) {}
};

struct CheckpointTensor {
    std::string name;
    kernels::DType dtype = kernels::DType::Float32;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> bytes;  // little-endian values, shape's element count of dtype

    std::int64_t elementCount() const;
};

struct CheckpointFile {
    std::map<std::string, std::string> metadata;  // without the format and crc32 entries
    std::vector<CheckpointTensor> tensors;

    const CheckpointTensor* find(const std::string& name) const;
    // The metadata value of `key`; throws CheckpointError naming `source` when absent.
    const std::string& value(const std::string& key, const std::string& source) const;
};

// Atomically writes `file` to `path`. Throws std::runtime_error naming the path on any I/O
// failure (a full disk included); the previous file at `path`, if any, is then left intact.
void writeCheckpointFile(const std::string& path, const CheckpointFile& file);
// The file's bytes as writeCheckpointFile would write them (for tests and fuzzing).
std::vector<unsigned char> encodeCheckpoint(const CheckpointFile& file);

// Reads and verifies a checkpoint; throws CheckpointError.
CheckpointFile readCheckpointFile(const std::string& path);
// The file's bytes, unverified (a pipe works too); throws CheckpointError when unreadable.
std::vector<unsigned char> readCheckpointBytes(const std::string& path);
CheckpointFile decodeCheckpoint(const std::vector<unsigned char>& bytes, const std::string& source);

}  // namespace cohort::train
