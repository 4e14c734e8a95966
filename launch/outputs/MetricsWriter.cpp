#include "launch/outputs/MetricsWriter.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "src/core/Errors.h"

namespace cohort::launch {

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string workspaceStatisticsJson(const memory::WorkspaceStatistics& statistics) {
    auto field = [](const char* key, auto value) { return std::string(",\"") + key + "\":" + std::to_string(value); };
    return "{\"workspace\":" + jsonString(statistics.name) +
           ",\"location\":" + jsonString(memory::toString(statistics.location)) +
           field("block_bytes", statistics.blockSize) + field("used_bytes", statistics.used) +
           field("peak_cycle_bytes", statistics.peakCycleBytes) + field("spilled_bytes", statistics.spilledBytes) +
           field("spilled_allocations", statistics.spilledAllocations) + field("pinned_bytes", statistics.pinnedBytes) +
           field("cycles", statistics.cycles) + field("generation", statistics.generation) +
           field("reallocations", statistics.reallocations) + "}";
}

MetricsWriter::MetricsWriter(const std::string& path) : file_(path, "--metrics") {}

MetricsWriter::MetricsWriter(const std::string& path, bool append) : file_(path, "--metrics", append) {
    if (append) appendedTo_ = path;
}

void MetricsWriter::keepRecords() {
    if (!keep_ && !appendedTo_.empty()) {  // the records before this run's, as far as they are whole
        std::ifstream in(appendedTo_);
        for (std::string line; std::getline(in, line);) {
            if (!line.empty() && line.front() == '{' && line.back() == '}') records_.push_back(line);
        }
    }
    keep_ = true;
}

MetricsWriter::~MetricsWriter() = default;

void MetricsWriter::writeRaw(const std::string& jsonObject) {
    file_.writeLine(jsonObject);
    if (keep_) records_.push_back(jsonObject);
}

void MetricsWriter::writeHeader(const std::string& jsonObject) {
    file_.writeLine(jsonObject, false);
    if (keep_) records_.push_back(jsonObject);
}

void MetricsWriter::writeEpoch(const train::EpochMetrics& m) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "{\"event\":\"epoch\",\"epoch\":%d,\"train_loss\":%.9g,\"train_accuracy\":%.6f,"
                  "\"test_loss\":%.9g,\"test_accuracy\":%.6f,\"samples_per_sec\":%.1f,\"seconds\":%.3f,"
                  "\"iterations\":%lld,\"learning_rate\":%.6g}",
                  m.epoch, m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy, m.samplesPerSecond,
                  m.seconds, static_cast<long long>(m.iterations), m.learningRate);
    writeRaw(line);
}

void MetricsWriter::writeDone(const train::RunSummary& s) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "{\"event\":\"done\",\"test_accuracy\":%.6f,\"test_loss\":%.6f,\"seconds\":%.3f,\"epochs\":%d,"
                  "\"iterations\":%lld",
                  s.testAccuracy, s.testLoss, s.seconds, s.epochs, static_cast<long long>(s.iterations));
    std::string record = line;
    if (!s.confusion.empty()) {  // the last evaluation's confusion matrix, one row per true class
        record.append(",\"classes\":").append(std::to_string(s.classes)).append(",\"confusion\":[");
        for (int r = 0; r < s.classes; ++r) {
            record += r ? ",[" : "[";
            for (int c = 0; c < s.classes; ++c) {
                record.append(c ? "," : "").append(std::to_string(s.confusion[std::size_t(r * s.classes + c)]));
            }
            record += "]";
        }
        record += "]";
    }
    writeRaw(record + "}");
}

}  // namespace cohort::launch
