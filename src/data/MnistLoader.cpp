#include "src/data/MnistLoader.h"

#include <filesystem>
#include <future>

#include "src/core/Errors.h"
#include "src/core/FileKind.h"
#include "src/data/IdxReader.h"
#include "src/data/PixelConversion.h"

namespace cohort::data {
namespace {

namespace fs = std::filesystem;

constexpr int kMnistClasses = 10;

// The plain file if present, else the .gz one; InputError naming both when neither exists.
std::string findIdxFile(const fs::path& directory, const std::string& baseName) {
    const fs::path plain = directory / baseName;
    const fs::path compressed = directory / (baseName + ".gz");
    // Something else under the name (a FIFO, a device, a directory): say so, do not open it.
    for (const fs::path& candidate : {plain, compressed}) {
        const std::string why = whyNotRegularFile(candidate.string());
        if (why.empty()) return candidate.string();
        if (why != "does not exist") throw InputError("cannot open IDX file " + candidate.string() + ": it " + why);
    }
    throw InputError("missing data file " + plain.string() + " (or " + compressed.string() +
                     ") in MNIST-format data directory " + directory.string());
}

Dataset loadSplit(const fs::path& directory, const std::string& prefix, const std::string& name) {
    const std::string imagesPath = findIdxFile(directory, prefix + "-images-idx3-ubyte");
    const std::string labelsPath = findIdxFile(directory, prefix + "-labels-idx1-ubyte");
    const IdxArray images = readIdx(imagesPath, {3, "count, rows, columns"});
    const IdxArray labels = readIdx(labelsPath, {1, "count"});
    if (images.dims[0] != labels.dims[0])
        throw InputError("image/label count mismatch: " + std::to_string(images.dims[0]) +
                         " images in " + imagesPath + " but " + std::to_string(labels.dims[0]) +
                         " labels in " + labelsPath);

    Dataset dataset;
    dataset.name = name;
    dataset.sampleShape = {1, images.dims[1], images.dims[2]};
    dataset.count = images.dims[0];
    dataset.featureSize = images.dims[1] * images.dims[2];
    dataset.numClasses = kMnistClasses;
    dataset.labels.resize(dataset.count);
    for (std::size_t i = 0; i < dataset.count; ++i) {
        const std::uint8_t label = labels.data[i];
        if (label >= kMnistClasses)
            throw InputError("bad label file " + labelsPath + ": label " + std::to_string(label) +
                             " at index " + std::to_string(i) + " is out of range (expected 0-9)");
        dataset.labels[i] = label;
    }
    dataset.features.resize(images.data.size());
    detail::pixelsToUnitFloats(images.data.data(), images.data.size(), dataset.features.data());
    return dataset;
}

}  // namespace

DatasetSplits loadMnistFormat(const std::string& directory, const std::string& name) {
    const fs::path root(directory);
    if (const std::string why = whyNotDirectory(directory); !why.empty()) {
        const std::string advice = why != "does not exist" ? "pass the directory that holds the IDX files"
                                   : name == "fashion-mnist"
                                       ? "install the dataset-fashion-mnist package or pass another one"
                                       : "put the four " + name + " IDX files (train-images-idx3-ubyte, ...; plain or .gz) "
                                         "there or pass another one";
        throw SettingError("{dataDirectory} " + directory + " " + why + "; " + advice);
    }
    // The test split loads on a second thread while train loads here (inflate dominates).
    // Train's error, if any, is the one reported; the future's destructor waits for test.
    std::future<Dataset> test =
        std::async(std::launch::async, [&root, &name] { return loadSplit(root, "t10k", name); });
    DatasetSplits splits;
    splits.train = loadSplit(root, "train", name);
    splits.test = test.get();
    if (splits.train.sampleShape != splits.test.sampleShape)
        throw InputError("MNIST-format data in " + directory + ": train images are " +
                         std::to_string(splits.train.sampleShape[1]) + "x" +
                         std::to_string(splits.train.sampleShape[2]) + " but test images are " +
                         std::to_string(splits.test.sampleShape[1]) + "x" +
                         std::to_string(splits.test.sampleShape[2]));
    return splits;
}

}  // namespace cohort::data
