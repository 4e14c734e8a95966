// A --config INI file through the whole flag parser (Boost's INI reader, then every flag's check).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "launch/options/Options.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/cohort-fuzz-config-" + std::to_string(::getpid()) + ".ini";
    {
        std::ofstream file(path, std::ios::binary | std::ios::trunc);
        file.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    }
    const int result = cohort::fuzzing::refusalsOnly([&] { cohort::launch::parseOptions("train", {"--config", path}); });
    std::remove(path.c_str());
    return result;
}
