#pragma once
// CIFAR-10 binary-version loader.
#include <cstdint>
#include <span>
#include <string>

#include "src/data/Dataset.h"

namespace cohort::data {

// Loads data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test) from
// `directory` (or from its cifar-10-batches-bin/ subfolder, as the archive unpacks). Each record
// is 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue). Result: sampleShape
// {3, 32, 32}, numClasses 10, pixels scaled to [0, 1]. Throws cohort::InputError (one line) for
// a missing directory or file, a file whose size is not a positive multiple of 3073, or a
// label > 9.
DatasetSplits loadCifar10(const std::string& directory);

// The records of one batch file's bytes, appended to `dataset` / as a data set of their own;
// `source` names them in error messages.
void appendCifar10Records(std::span<const std::uint8_t> bytes, const std::string& source, Dataset& dataset);
Dataset cifar10Batch(std::span<const std::uint8_t> bytes, const std::string& source);

}  // namespace cohort::data
