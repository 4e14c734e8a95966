#include "src/data/Cifar10Loader.h"

#include <filesystem>
#include <vector>

#include "src/core/Errors.h"
#include "src/core/FileKind.h"
#include "src/data/FileContents.h"
#include "src/data/PixelConversion.h"

namespace cohort::data {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChannels = 3;
constexpr std::size_t kSide = 32;
constexpr std::size_t kPixelsPerRecord = kChannels * kSide * kSide;  // 3072
constexpr std::size_t kRecordSize = 1 + kPixelsPerRecord;            // 3073
constexpr int kCifarClasses = 10;

Dataset emptyCifarDataset() {
    Dataset dataset;
    dataset.name = "cifar10";
    dataset.sampleShape = {kChannels, kSide, kSide};
    dataset.featureSize = kPixelsPerRecord;
    dataset.numClasses = kCifarClasses;
    return dataset;
}

// Appends the records of one batch file to `dataset`.
void appendBatchFile(const fs::path& path, Dataset& dataset) {
    if (const std::string why = whyNotRegularFile(path.string()); why == "does not exist") {
        throw InputError("missing CIFAR-10 file " + path.string() +
                         " (expected data_batch_1.bin .. data_batch_5.bin and test_batch.bin)");
    } else if (!why.empty()) {
        throw InputError("cannot open CIFAR-10 file " + path.string() + ": it " + why);
    }
    appendCifar10Records(readFileBytes(path.string(), "CIFAR-10 file"), path.string(), dataset);
}

}  // namespace

void appendCifar10Records(std::span<const std::uint8_t> bytes, const std::string& source, Dataset& dataset) {
    if (bytes.empty() || bytes.size() % kRecordSize != 0)
        throw InputError("bad CIFAR-10 file " + source + ": size " +
                         std::to_string(bytes.size()) +
                         " bytes is not a positive multiple of the 3073-byte record "
                         "(1 label byte + 3072 pixel bytes)");
    const std::size_t records = bytes.size() / kRecordSize;
    const std::size_t first = dataset.count;
    dataset.count += records;
    dataset.labels.resize(dataset.count);
    dataset.features.resize(dataset.count * kPixelsPerRecord);
    for (std::size_t r = 0; r < records; ++r) {
        const std::uint8_t* record = bytes.data() + r * kRecordSize;
        if (record[0] >= kCifarClasses)
            throw InputError("bad CIFAR-10 file " + source + ": label " +
                             std::to_string(record[0]) + " in record " + std::to_string(r) +
                             " is out of range (expected 0-9)");
        dataset.labels[first + r] = record[0];
        detail::pixelsToUnitFloats(record + 1, kPixelsPerRecord,
                                   dataset.features.data() + (first + r) * kPixelsPerRecord);
    }
}

Dataset cifar10Batch(std::span<const std::uint8_t> bytes, const std::string& source) {
    Dataset dataset = emptyCifarDataset();
    appendCifar10Records(bytes, source, dataset);
    return dataset;
}

DatasetSplits loadCifar10(const std::string& directory) {
    fs::path root(directory);
    if (const std::string why = whyNotDirectory(directory); !why.empty())
        throw SettingError("{dataDirectory} " + directory + " " + why + "; pass the directory of the CIFAR-10 binary batches");
    // The official archive unpacks to cifar-10-batches-bin/; accept its parent too.
    if (!fs::exists(root / "data_batch_1.bin") && fs::is_directory(root / "cifar-10-batches-bin"))
        root /= "cifar-10-batches-bin";

    DatasetSplits splits{emptyCifarDataset(), emptyCifarDataset()};
    for (int batch = 1; batch <= 5; ++batch)
        appendBatchFile(root / ("data_batch_" + std::to_string(batch) + ".bin"), splits.train);
    appendBatchFile(root / "test_batch.bin", splits.test);
    return splits;
}

}  // namespace cohort::data
