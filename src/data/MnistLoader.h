#pragma once
// MNIST / Fashion-MNIST loader: the four IDX files of the standard distribution.
#include <string>

#include "src/data/Dataset.h"

namespace cohort::data {

// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `directory`, each plain or with a .gz suffix (plain preferred).
// Result: sampleShape {1, rows, cols}, numClasses 10, pixels scaled to [0, 1], both splits
// named `name`. Throws cohort::InputError (one line) for a missing directory or file, a bad
// IDX file, images that are not 3-D, labels that are not 1-D, an image/label count mismatch,
// train/test image sizes that differ, or a label >= 10.
DatasetSplits loadMnistFormat(const std::string& directory, const std::string& name);

}  // namespace cohort::data
