#pragma once
// --metrics: JSON Lines, one object per event ("epoch", "memory", "done", ...), flushed per line
// so a crashed or killed run still leaves every completed event on disk.
#include <cstdio>
#include <string>

#include "src/train/Trainer.h"

namespace cohort::launch {

class MetricsWriter {
public:
    explicit MetricsWriter(const std::string& path);  // empty path: writes nothing
    ~MetricsWriter();
    MetricsWriter(const MetricsWriter&) = delete;
    MetricsWriter& operator=(const MetricsWriter&) = delete;

    void writeEpoch(const train::EpochMetrics& metrics);
    void writeDone(const train::RunSummary& summary);
    void writeRaw(const std::string& jsonObject);  // one complete object, no newline
    bool enabled() const { return file_ != nullptr; }

private:
    std::FILE* file_ = nullptr;
};

std::string jsonEscape(const std::string& text);

}  // namespace cohort::launch
