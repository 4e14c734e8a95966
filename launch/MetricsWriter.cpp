#include "launch/MetricsWriter.h"

#include <cerrno>
#include <cstring>

#include "src/core/Errors.h"

namespace cohort::launch {

std::string jsonEscape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

MetricsWriter::MetricsWriter(const std::string& path) {
    if (path.empty()) return;
    file_ = std::fopen(path.c_str(), "w");
    if (!file_) throw InputError("cannot write --metrics file " + path + ": " + std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
    if (file_) std::fclose(file_);
}

void MetricsWriter::writeRaw(const std::string& jsonObject) {
    if (!file_) return;
    std::fputs(jsonObject.c_str(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
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
                  "\"iterations\":%lld}",
                  s.testAccuracy, s.testLoss, s.seconds, s.epochs, static_cast<long long>(s.iterations));
    writeRaw(line);
}

}  // namespace cohort::launch
