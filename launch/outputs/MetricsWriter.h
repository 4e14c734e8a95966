#pragma once
// --metrics: JSON Lines, one object per event ("epoch", "memory", "done", ...), flushed per line
// so a crashed or killed run still leaves every completed event on disk. The file is an
// OutputFile: it replaces an existing one only at its first line, and a failed write (a full
// disk) fails the run.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "launch/outputs/OutputFile.h"
#include "memory/Memory.h"
#include "src/train/Trainer.h"

namespace cohort::launch {

// The version of the --metrics schema (docs/METRICS.md), carried by the first record ("run").
inline constexpr int kMetricsSchema = 1;

class MetricsWriter {
public:
    explicit MetricsWriter(const std::string& path);  // empty path: writes nothing
    // `append`: continues an existing file (a job restarted by cohort launch); its records count as
    // this run's for keepRecords().
    MetricsWriter(const std::string& path, bool append);
    ~MetricsWriter();
    MetricsWriter(const MetricsWriter&) = delete;
    MetricsWriter& operator=(const MetricsWriter&) = delete;

    void writeEpoch(const train::EpochMetrics& metrics);
    void writeDone(const train::RunSummary& summary);
    void writeRaw(const std::string& jsonObject);  // one complete object, no newline
    // The first record: what the run is. It does not yet replace an older file at the path.
    void writeHeader(const std::string& jsonObject);
    // Every record written so far, kept in memory (for --report, which renders from them).
    void keepRecords();
    const std::vector<std::string>& records() const { return records_; }
    bool enabled() const { return file_.enabled(); }

private:
    OutputFile file_;
    bool keep_ = false;
    std::string appendedTo_;  // the existing file this writer continues
    std::vector<std::string> records_;
};

// `text` as a JSON string literal, quotes included: quote, backslash and control characters
// escaped (\n, \t, \r by name, the others as \u00XX); other bytes as they are (UTF-8 passes
// through). Every string cohort writes into JSON goes through it.
std::string jsonString(const std::string& text);

// One workspace's statistics as one JSON object (no newline): {"workspace":..,"location":..,
// "block_bytes":..,"used_bytes":..,"peak_cycle_bytes":..,"spilled_bytes":..,
// "spilled_allocations":..,"pinned_bytes":..,"cycles":..,"generation":..,"reallocations":..}.
std::string workspaceStatisticsJson(const memory::WorkspaceStatistics& statistics);

}  // namespace cohort::launch
