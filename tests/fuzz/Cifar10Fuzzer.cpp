// One CIFAR-10 binary batch: record size and labels.
#include <cstdint>
#include <span>

#include "src/data/Cifar10Loader.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return cohort::fuzzing::refusalsOnly([&] { cohort::data::cifar10Batch(std::span(data, size), "fuzz.bin"); });
}
