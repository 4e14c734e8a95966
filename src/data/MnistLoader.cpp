#include "src/data/MnistLoader.h"

#include <filesystem>
#include <future>

#include "src/core/Errors.h"
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
    if (fs::is_regular_file(plain)) return plain.string();
    if (fs::is_regular_file(compressed)) return compressed.string();
    // Something else under the name (a FIFO, a device, a directory): say so, do not open it.
    for (const fs::path& candidate : {plain, compressed}) {
        std::error_code error;
        if (fs::exists(candidate, error)) {
            throw InputError("cannot open IDX file " + candidate.string() + ": it is not a regular file (a FIFO, "
                             "device, socket or directory)");
        }
    }
    throw InputError("missing data file " + plain.string() + " (or " + compressed.string() +
                     ") in MNIST-format data directory " + directory.string());
}

Dataset loadSplit(const fs::path& directory, const std::string& prefix, const std::string& name) {
    const std::string imagesPath = findIdxFile(directory, prefix + "-images-idx3-ubyte");
    const std::string labelsPath = findIdxFile(directory, prefix + "-labels-idx1-ubyte");
    const IdxArray images = readIdx(imagesPath);
    const IdxArray labels = readIdx(labelsPath);
    if (images.dims.size() != 3)
        throw InputError("bad image file " + imagesPath + ": expected 3 dimensions (count, rows, " +
                         "columns), found " + std::to_string(images.dims.size()));
    if (labels.dims.size() != 1)
        throw InputError("bad label file " + labelsPath + ": expected 1 dimension (count), found " +
                         std::to_string(labels.dims.size()));
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
    if (!fs::is_directory(root))
        throw SettingError("{dataDirectory} " + directory +
                           " does not exist; install dataset-fashion-mnist or pass another one");
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
