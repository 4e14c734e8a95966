// CSV text as `--data csv` reads it: header detection, cells, labels, ranges.
#include <cstdint>
#include <string_view>

#include "src/data/CsvLoader.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    return cohort::fuzzing::refusalsOnly([&] { cohort::data::parseCsvText(text, "fuzz.csv"); });
}
