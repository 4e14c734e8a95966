#include "src/data/CsvLoader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "src/core/Errors.h"
#include "src/data/DatasetSplit.h"
#include "src/data/FileContents.h"

namespace cohort::data {
namespace {

struct CsvTable {
    std::size_t columns = 0;
    std::size_t rows = 0;
    int maxLabel = -1;
    std::vector<float> features;
    std::vector<std::int32_t> labels;
};

std::string_view trim(std::string_view text) {
    const auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
    while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
    return text;
}

// Splits one line on ',' into trimmed cells (reusing `cells`' storage).
void splitCells(std::string_view line, std::vector<std::string_view>& cells) {
    cells.clear();
    for (;;) {
        const std::size_t comma = line.find(',');
        cells.push_back(trim(line.substr(0, comma)));
        if (comma == std::string_view::npos) return;
        line.remove_prefix(comma + 1);
    }
}

// A whole cell read as a number: a float, a number beyond float's range (|x| > 3.4e38; one too
// small to represent reads as 0 or a subnormal, as strtof does), or not a number at all.
struct CellNumber {
    enum Kind { value, outOfRange, none } kind = none;
    float number = 0.0f;
};

CellNumber parseFloat(std::string_view text) {
    if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);  // from_chars takes no '+'
    float value = 0.0f;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || end != text.data() + text.size()) return {};
    if (error == std::errc()) return {CellNumber::value, value};
    if (error != std::errc::result_out_of_range) return {};
    const double wide = std::strtod(std::string(text).c_str(), nullptr);  // overflow or underflow?
    if (!(std::fabs(wide) <= double(std::numeric_limits<float>::max()))) return {CellNumber::outOfRange, 0.0f};
    return {CellNumber::value, float(wide)};
}

// A whole-cell integer; one beyond long long's range saturates (the label checks then say why).
std::optional<long long> parseInteger(std::string_view text) {
    if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
    long long value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || end != text.data() + text.size()) return {};
    if (error == std::errc::result_out_of_range)
        return text.front() == '-' ? std::numeric_limits<long long>::min() : std::numeric_limits<long long>::max();
    if (error != std::errc()) return {};
    return value;
}

class CsvParser {
public:
    CsvParser(const std::string& path, int labelColumn, int labelLimit, std::string limitSource)
        : path_(path),
          labelColumn_(labelColumn),
          labelLimit_(labelLimit),
          limitSource_(std::move(limitSource)) {}

    CsvTable parse() {
        const std::vector<std::uint8_t> bytes = readFileMaybeGzip(path_, "CSV file");
        return parseText(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }

    CsvTable parseText(std::string_view text) {
        CsvTable table;
        std::vector<std::string_view> cells;
        std::size_t lineNumber = 0;
        bool first = true;
        std::size_t position = 0;
        while (position < text.size()) {
            std::size_t newline = text.find('\n', position);
            if (newline == std::string_view::npos) newline = text.size();
            const std::string_view line = text.substr(position, newline - position);
            position = newline + 1;
            ++lineNumber;
            if (trim(line).empty()) continue;
            splitCells(line, cells);
            if (first) {
                first = false;
                startTable(cells, table);
                if (isHeader(cells)) continue;
            }
            addRow(cells, lineNumber, table);
        }
        if (first) fail("file is empty");
        if (table.rows == 0) fail("no data rows (only a header line)");
        return table;
    }

private:
    [[noreturn]] void fail(const std::string& problem) const {
        throw InputError("bad CSV file " + path_ + ": " + problem);
    }
    [[noreturn]] void failAt(std::size_t line, const std::string& problem) const {
        fail("line " + std::to_string(line) + ": " + problem);
    }

    void startTable(const std::vector<std::string_view>& cells, CsvTable& table) const {
        table.columns = cells.size();
        if (table.columns < 2)
            fail("found " + std::to_string(table.columns) +
                 " column; need a label column and at least one feature column");
        if (labelColumn_ < 0 || static_cast<std::size_t>(labelColumn_) >= table.columns)
            fail("label column " + std::to_string(labelColumn_) +
                 " is out of range (the file has " + std::to_string(table.columns) +
                 " columns, numbered from 0)");
    }

    static bool isHeader(const std::vector<std::string_view>& cells) {
        for (std::string_view cell : cells)
            if (parseFloat(cell).kind == CellNumber::none) return true;
        return false;
    }

    std::int32_t parseLabel(std::string_view cell, std::size_t line) const {
        const std::string column = " in column " + std::to_string(labelColumn_);
        const std::optional<long long> value = parseInteger(cell);
        if (!value) {
            if (parseFloat(cell).kind != CellNumber::none)
                failAt(line, "label \"" + std::string(cell) + "\"" + column +
                                 " is not a non-negative integer");
            failAt(line, "non-numeric label \"" + std::string(cell) + "\"" + column);
        }
        if (*value < 0)
            failAt(line, "label " + std::string(cell) + column + " is negative; labels must be " +
                             "non-negative integers");
        if (*value >= labelLimit_)
            failAt(line, "label " + std::string(cell) + column + " is out of range (" +
                             limitSource_ + " allows labels 0-" + std::to_string(labelLimit_ - 1) +
                             ")");
        return static_cast<std::int32_t>(*value);
    }

    void addRow(const std::vector<std::string_view>& cells, std::size_t line,
                CsvTable& table) const {
        if (cells.size() != table.columns)
            failAt(line, "expected " + std::to_string(table.columns) + " columns, found " +
                             std::to_string(cells.size()));
        for (std::size_t c = 0; c < cells.size(); ++c) {
            if (c == static_cast<std::size_t>(labelColumn_)) {
                const std::int32_t label = parseLabel(cells[c], line);
                table.labels.push_back(label);
                table.maxLabel = std::max(table.maxLabel, static_cast<int>(label));
                continue;
            }
            const CellNumber value = parseFloat(cells[c]);
            if (value.kind == CellNumber::none)
                failAt(line, "column " + std::to_string(c) + ": non-numeric value \"" +
                                 std::string(cells[c]) + "\"");
            if (value.kind == CellNumber::outOfRange)
                failAt(line, "column " + std::to_string(c) + ": value " + std::string(cells[c]) +
                                 " is out of float range (magnitude above 3.4e38)");
            if (!std::isfinite(value.number))
                failAt(line, "column " + std::to_string(c) + ": non-finite value \"" +
                                 std::string(cells[c]) + "\"");
            table.features.push_back(value.number);
        }
        ++table.rows;
    }

    const std::string& path_;
    int labelColumn_;
    int labelLimit_;
    std::string limitSource_;
};

Dataset toDataset(CsvTable table, const std::string& path, int numClasses) {
    Dataset dataset;
    dataset.name = std::filesystem::path(path).stem().string();
    dataset.featureSize = table.columns - 1;
    dataset.sampleShape = {dataset.featureSize};
    dataset.count = table.rows;
    dataset.numClasses = numClasses;
    dataset.features = std::move(table.features);
    dataset.labels = std::move(table.labels);
    return dataset;
}

CsvTable parseTrainFile(const std::string& path, int labelColumn) {
    return CsvParser(path, labelColumn, kMaxCsvLabel + 1, "the CSV loader").parse();
}

}  // namespace

Dataset parseCsvText(std::string_view text, const std::string& source, int labelColumn) {
    CsvTable table = CsvParser(source, labelColumn, kMaxCsvLabel + 1, "the CSV loader").parseText(text);
    const int numClasses = table.maxLabel + 1;
    return toDataset(std::move(table), source, numClasses);
}

Dataset loadCsvFile(const std::string& path, int labelColumn) {
    CsvTable table = parseTrainFile(path, labelColumn);
    const int numClasses = table.maxLabel + 1;
    return toDataset(std::move(table), path, numClasses);
}

DatasetSplits loadCsv(const std::string& trainPath, const std::string& testPath, int labelColumn) {
    CsvTable train = parseTrainFile(trainPath, labelColumn);
    const int numClasses = train.maxLabel + 1;
    CsvTable test = CsvParser(testPath, labelColumn, numClasses, "train file " + trainPath).parse();
    if (test.columns != train.columns)
        throw InputError("bad CSV file " + testPath + ": has " + std::to_string(test.columns) +
                         " columns but train file " + trainPath + " has " +
                         std::to_string(train.columns));
    DatasetSplits splits;
    splits.train = toDataset(std::move(train), trainPath, numClasses);
    splits.test = toDataset(std::move(test), testPath, numClasses);
    splits.test.name = splits.train.name;
    return splits;
}

DatasetSplits loadCsvSplit(const std::string& path, double testFraction, std::uint64_t seed,
                           int labelColumn) {
    if (!(testFraction >= 0.0 && testFraction < 1.0))
        throw InputError("CSV test fraction must lie in [0, 1), got " +
                         std::to_string(testFraction));
    return splitTrainTest(loadCsvFile(path, labelColumn), testFraction, seed);
}

}  // namespace cohort::data
