#pragma once
// cohort data module: labelled data sets in memory, their readers, and the per-epoch batch order.
//
// Contract:
// - A Dataset holds `count` samples of `featureSize` floats (row-major, shape `sampleShape`) and
//   `count` int32 labels in [0, numClasses). Loaders return train and test as DatasetSplits.
// - Readers (IDX / MNIST format, CIFAR-10 binary, CSV) read each file whole, accept gzip where
//   noted, and validate strictly: every problem with a user's file is a cohort::InputError whose
//   message is one line naming the file and the problem (and the line/column for CSV).
// - Image pixels are scaled to [0, 1]; normalisation ((x - mean) / stddev, train statistics
//   applied to both splits) is a separate, explicit step.
// - shuffledOrder(count, seed, epoch) is the same permutation on every platform. BatchIterator
//   cuts that order into runs of batchSize: batch j is order[j*batchSize, (j+1)*batchSize), so a
//   coordinator may hand batch j to worker j mod N. Filling a batch copies rows into caller-owned
//   buffers and never allocates.
// - makeSynthetic gives a learnable, seed-determined data set for tests and benchmarks.
#include "src/data/Batch.h"
#include "src/data/BatchIterator.h"
#include "src/data/Cifar10Loader.h"
#include "src/data/CsvLoader.h"
#include "src/data/Dataset.h"
#include "src/data/DatasetSplit.h"
#include "src/data/IdxReader.h"
#include "src/data/MnistLoader.h"
#include "src/data/Normalization.h"
#include "src/data/Shuffle.h"
#include "src/data/Synthetic.h"
