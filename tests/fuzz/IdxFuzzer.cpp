// IDX files, plain or gzip-compressed, as the MNIST loader reads them: inflation bounded by the
// size the header declares, then the strict header and size checks. The first byte picks the
// dimensions the caller expects (any, images, labels), so the dimension-count check is reached.
#include <cstdint>
#include <vector>

#include "src/data/FileContents.h"
#include "src/data/IdxReader.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cohort::data;
    if (size == 0) return 0;
    const IdxShape shapes[] = {{}, {3, "count, rows, columns"}, {1, "count"}};
    const IdxShape& expected = shapes[data[0] % 3];
    std::vector<std::uint8_t> bytes(data + 1, data + size);
    return cohort::fuzzing::refusalsOnly([&] {
        if (hasGzipMagic(bytes)) bytes = inflateGzip(bytes, "fuzz.idx.gz", "IDX file", idxDeclaredSize);
        parseIdx(std::move(bytes), "fuzz.idx", expected);
    });
}
