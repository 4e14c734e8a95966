#include <gtest/gtest.h>

#include "src/data/CsvLoader.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

std::string csvError(const std::string& text, int labelColumn = 0) {
    ScratchDirectory dir;
    writeText(dir.file("data.csv"), text);
    const std::string message =
        inputErrorMessage([&] { loadCsvFile(dir.file("data.csv"), labelColumn); });
    EXPECT_CONTAINS(message, "bad CSV file " + dir.file("data.csv") + ": ");
    EXPECT_TRUE(isOneLine(message)) << message;
    return message;
}

TEST(CsvLoaderTest, LoadsWithoutHeader) {
    ScratchDirectory dir;
    writeText(dir.file("iris.csv"), "0,1.5,2\n2, -3e-1 ,+4\r\n1,5,6.25\n\n");
    const Dataset dataset = loadCsvFile(dir.file("iris.csv"));
    EXPECT_EQ(dataset.name, "iris");
    EXPECT_EQ(dataset.count, 3u);
    EXPECT_EQ(dataset.featureSize, 2u);
    EXPECT_EQ(dataset.sampleShape, (std::vector<std::size_t>{2}));
    EXPECT_EQ(dataset.numClasses, 3);
    EXPECT_EQ(dataset.labels, (std::vector<std::int32_t>{0, 2, 1}));
    EXPECT_EQ(dataset.features, (std::vector<float>{1.5f, 2.0f, -0.3f, 4.0f, 5.0f, 6.25f}));
}

TEST(CsvLoaderTest, DetectsHeaderLine) {
    ScratchDirectory dir;
    writeText(dir.file("h.csv"), "width,height,class\n1,2,0\n3,4,1\n");
    const Dataset dataset = loadCsvFile(dir.file("h.csv"), 2);
    EXPECT_EQ(dataset.count, 2u);
    EXPECT_EQ(dataset.labels, (std::vector<std::int32_t>{0, 1}));
    EXPECT_EQ(dataset.features, (std::vector<float>{1, 2, 3, 4}));
}

TEST(CsvLoaderTest, RaggedRowNamesLineAndCounts) {
    EXPECT_CONTAINS(csvError("a,b,c\n0,1,2\n1,2\n"), "line 3: expected 3 columns, found 2");
}

TEST(CsvLoaderTest, NonNumericCellNamesLineColumnAndText) {
    EXPECT_CONTAINS(csvError("0,1,2\n1,2,abc\n"), "line 2: column 2: non-numeric value \"abc\"");
    EXPECT_CONTAINS(csvError("0,1,2\n1,,3\n"), "line 2: column 1: non-numeric value \"\"");
    EXPECT_CONTAINS(csvError("0,1,2\n1,nan,3\n"), "non-finite value \"nan\"");
}

TEST(CsvLoaderTest, ANumberBeyondFloatRangeIsNamedAsSuchNotAsNonNumeric) {
    EXPECT_CONTAINS(csvError("0,1,2\n1,1e999,3\n"), "line 2: column 1: value 1e999 is out of float range");
    EXPECT_CONTAINS(csvError("0,1,2\n1,2,-4e38\n"), "column 2: value -4e38 is out of float range");
    // The first line too: a number out of range does not make a line a header.
    EXPECT_CONTAINS(csvError("1,1e999\n0,1\n"), "line 1: column 1: value 1e999 is out of float range");
    EXPECT_CONTAINS(csvError("99999999999999999999999,1\n"), "label 99999999999999999999999 in column 0 is out of range");
    // Too small to represent is not an error: it reads as 0, as strtof reads it.
    ScratchDirectory dir;
    writeText(dir.file("tiny.csv"), "0,1e-60\n1,2\n");
    EXPECT_EQ(loadCsvFile(dir.file("tiny.csv")).features, (std::vector<float>{0.0f, 2.0f}));
}

TEST(CsvLoaderTest, RejectsBadLabels) {
    EXPECT_CONTAINS(csvError("0,1\n-1,2\n"), "line 2: label -1 in column 0 is negative");
    EXPECT_CONTAINS(csvError("0,1\n1.5,2\n"),
                    "label \"1.5\" in column 0 is not a non-negative integer");
    EXPECT_CONTAINS(csvError("0,1\ncat,2\n"), "line 2: non-numeric label \"cat\"");
    EXPECT_CONTAINS(csvError("99999999,1\n"), "is out of range");
}

TEST(CsvLoaderTest, RejectsEmptyFileAndHeaderOnly) {
    EXPECT_CONTAINS(csvError(""), "file is empty");
    EXPECT_CONTAINS(csvError("\n  \n"), "file is empty");
    EXPECT_CONTAINS(csvError("label,x\n"), "no data rows");
}

TEST(CsvLoaderTest, RejectsBadLabelColumnAndSingleColumn) {
    EXPECT_CONTAINS(csvError("0,1\n", 2), "label column 2 is out of range");
    EXPECT_CONTAINS(csvError("0\n1\n"), "need a label column and at least one feature column");
}

TEST(CsvLoaderTest, TrainAndTestFiles) {
    ScratchDirectory dir;
    writeText(dir.file("train.csv"), "y,x\n0,1\n3,2\n");
    writeText(dir.file("test.csv"), "1,5\n");
    const DatasetSplits splits = loadCsv(dir.file("train.csv"), dir.file("test.csv"));
    EXPECT_EQ(splits.train.numClasses, 4);
    EXPECT_EQ(splits.test.numClasses, 4);
    EXPECT_EQ(splits.test.count, 1u);
    EXPECT_EQ(splits.test.features, (std::vector<float>{5}));
}

TEST(CsvLoaderTest, TestLabelBeyondTrainClassesIsAnError) {
    ScratchDirectory dir;
    writeText(dir.file("train.csv"), "0,1\n2,2\n");
    writeText(dir.file("test.csv"), "1,5\n3,6\n");
    const std::string message =
        inputErrorMessage([&] { loadCsv(dir.file("train.csv"), dir.file("test.csv")); });
    EXPECT_CONTAINS(message, "bad CSV file " + dir.file("test.csv") + ": line 2: label 3");
    EXPECT_CONTAINS(message, "allows labels 0-2");
}

TEST(CsvLoaderTest, TestColumnCountMustMatchTrain) {
    ScratchDirectory dir;
    writeText(dir.file("train.csv"), "0,1\n");
    writeText(dir.file("test.csv"), "0,1,2\n");
    EXPECT_CONTAINS(
        inputErrorMessage([&] { loadCsv(dir.file("train.csv"), dir.file("test.csv")); }),
        "has 3 columns but train file");
}

TEST(CsvLoaderTest, SingleFileSplitIsDeterministic) {
    ScratchDirectory dir;
    std::string text;
    for (int i = 0; i < 20; ++i) text += std::to_string(i % 4) + "," + std::to_string(i) + "\n";
    writeText(dir.file("all.csv"), text);
    const DatasetSplits a = loadCsvSplit(dir.file("all.csv"), 0.25, 7);
    const DatasetSplits b = loadCsvSplit(dir.file("all.csv"), 0.25, 7);
    EXPECT_EQ(a.train.count, 15u);
    EXPECT_EQ(a.test.count, 5u);
    EXPECT_EQ(a.test.features, b.test.features);
    EXPECT_EQ(a.train.numClasses, 4);
    EXPECT_CONTAINS(inputErrorMessage([&] { loadCsvSplit(dir.file("all.csv"), 1.0, 7); }),
                    "test fraction");
}

}  // namespace
}  // namespace cohort::data
