#pragma once
// CSV loader: one sample per line, a label column plus numeric feature columns, comma-separated.
// A first line with any non-numeric cell is taken as a header and skipped. Blank lines are
// skipped; spaces around cells and a trailing '\r' are ignored. Parsing is strict: every error
// is a cohort::InputError whose one-line message names the file (and line / column / text):
// empty file or no data rows, ragged row (expected vs found column count), non-numeric or
// non-finite cell, label that is not a non-negative integer, label column out of range.
#include <cstdint>
#include <string>
#include <string_view>

#include "src/data/Dataset.h"

namespace cohort::data {

// Largest label accepted (numClasses is max label + 1, so this bounds the class count). A label
// above it is refused by name; 65,536 classes already make the per-class evaluation (a classes x
// classes confusion matrix) gigabytes, so a larger label is far more likely a wrong column.
inline constexpr int kMaxCsvLabel = (1 << 16) - 1;

// One CSV file as a Dataset: sampleShape {F} (F = columns - 1), numClasses = max label + 1.
Dataset loadCsvFile(const std::string& path, int labelColumn = 0);

// CSV text already in memory (a file's contents after any gzip inflation), as loadCsvFile reads
// it; `source` names it in error messages.
Dataset parseCsvText(std::string_view text, const std::string& source, int labelColumn = 0);

// Separate train and test files. numClasses comes from train (max label + 1); a test label
// >= that is an error, and both files must have the same number of columns.
DatasetSplits loadCsv(const std::string& trainPath, const std::string& testPath,
                      int labelColumn = 0);

// One file split at random (deterministic from `seed`): round(testFraction * rows) samples go to
// test, the rest to train. testFraction must lie in [0, 1).
DatasetSplits loadCsvSplit(const std::string& path, double testFraction, std::uint64_t seed,
                           int labelColumn = 0);

}  // namespace cohort::data
