// A checkpoint file as --resume and `cohort evaluate --load` read it: the safetensors header
// (length, JSON nesting, offsets, dtypes, shapes), the per-tensor and header crc32s, metadata.
#include <cstdint>
#include <vector>

#include "src/train/CheckpointFile.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<unsigned char> bytes(data, data + size);
    return cohort::fuzzing::refusalsOnly([&] { cohort::train::decodeCheckpoint(bytes, "fuzz.safetensors"); });
}
