// A --model-file: JSON nesting and size limits, the layer schema, and the (unconfigured) layers it
// describes for 10 classes. Parameters are not allocated here: sizes no machine holds are the
// run's memory prediction's to refuse (tests/launch/commands/BadInputTest.cpp).
#include <cstdint>
#include <string>

#include "src/nn/ModelDescription.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    return cohort::fuzzing::refusalsOnly([&] {
        const cohort::nn::ModelDescription description = cohort::nn::parseModelDescription(text, "fuzz.json");
        description.buildLayers(10);
    });
}
