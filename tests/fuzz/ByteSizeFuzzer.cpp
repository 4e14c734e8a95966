// The size parser of --maxbytes / --maxphysicalbytes ("512M", "1.5GB"): std::invalid_argument
// naming the text is its refusal (memory/ knows nothing of the CLI's InputError).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "memory/SystemAllocator.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    return cohort::fuzzing::refusalsOnly<std::invalid_argument>([&] {
        if (cohort::memory::parseByteSize(text) < 0) cohort::fuzzing::unexpected("negative size", text);
    });
}
