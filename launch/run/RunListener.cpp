#include "launch/run/RunListener.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "launch/outputs/HtmlReport.h"
#include "memory/Memory.h"

namespace cohort::launch {

RunListener::RunListener(const RunOptions& options, const RunSetup& setup, RunOutputs outputs)
    : options_(options), setup_(setup), outputs_(std::move(outputs)) {}

// Every other worker waits until it returns.
void RunListener::saveModel(const train::CheckpointFile& file) {
    try {
        train::writeCheckpointFile(options_.savePath, file);
    } catch (const std::exception& error) {
        // (Checked writable before the run; this is a later failure, a full disk say.) The trained
        // model is not lost when the checkpoint directory has it: say where.
        if (lastCheckpoint_.empty()) throw;
        throw std::runtime_error(std::string(error.what()) + "; the trained model is in the checkpoint " + lastCheckpoint_ +
                                 " (cohort evaluate --load " + lastCheckpoint_ + ")");
    }
}

void RunListener::onSnapshot(const parallel::TrainingSnapshot& snapshot, parallel::SnapshotReason reason) {
    const train::CheckpointFile file = runCheckpoint(snapshot, options_, setup_, reason);
    if (outputs_.checkpoints) {
        lastCheckpoint_ = outputs_.checkpoints->write(file, snapshot.iteration, snapshot.epoch);
        outputs_.metrics.writeRaw("{\"event\":\"checkpoint\",\"path\":" + jsonString(lastCheckpoint_) +
                                  ",\"epoch\":" + std::to_string(snapshot.epoch) + ",\"round\":" +
                                  std::to_string(snapshot.round) + ",\"iteration\":" + std::to_string(snapshot.iteration) + "}");
    }
    if (reason == parallel::SnapshotReason::RunEnd && !options_.savePath.empty()) saveModel(file);
    if (reason == parallel::SnapshotReason::Stop) stoppedAt_ = snapshot;
}

void RunListener::onEpoch(const train::EpochMetrics& m) {
    MetricsWriter& metrics = outputs_.metrics;
    metrics.writeEpoch(m);
    // Called on worker 0's thread: its workspaces, plus the process's allocator counters.
    for (const auto& statistics : memory::WorkspaceManager::forCurrentThread().statistics()) {
        metrics.writeRaw("{\"event\":\"memory\",\"epoch\":" + std::to_string(m.epoch) + ",\"worker\":0," +
                         workspaceStatisticsJson(statistics).substr(1));
    }
    const auto counters = memory::allocationCounters();
    char line[256];
    std::snprintf(line, sizeof line,
                  "{\"event\":\"memory\",\"epoch\":%d,\"scope\":\"process\",\"host_bytes_in_use\":%lld,"
                  "\"host_peak_bytes\":%lld,\"device_bytes_in_use\":%lld,\"system_allocations\":%llu,"
                  "\"resident_bytes\":%lld}",
                  m.epoch, static_cast<long long>(counters.bytesInUse[0]), static_cast<long long>(counters.peakBytesInUse[0]),
                  static_cast<long long>(counters.bytesInUse[2]), static_cast<unsigned long long>(counters.allocations),
                  static_cast<long long>(memory::MemoryBudget::residentBytes()));
    metrics.writeRaw(line);
    writeReport();
    if (options_.quiet) return;
    if (outputs_.progress) outputs_.progress->clear();
    if (setup_.data.train.windowed()) {  // a language model: by iteration, per token
        std::printf("iteration %lld/%lld  train loss %.4f  val loss %.4f (%.3f bits/token)  %.0f tokens/s  %.1f s\n",
                    static_cast<long long>(m.iterations),
                    static_cast<long long>(std::int64_t(setup_.trainer.epochs) * evaluationInterval(options_)), m.trainLoss,
                    m.testLoss, m.testLoss / std::log(2.0), m.samplesPerSecond, m.seconds);
    } else {
        std::printf("epoch %d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0f samples/s  %.1f s\n", m.epoch,
                    setup_.trainer.epochs, m.trainLoss, 100.0 * m.trainAccuracy, m.testLoss, 100.0 * m.testAccuracy,
                    m.samplesPerSecond, m.seconds);
    }
    std::fflush(stdout);
}

void RunListener::onWorkerStatistics(int epoch, const std::vector<parallel::WorkerStatistics>& workers) {
    char line[512];
    for (const auto& w : workers) {
        std::snprintf(line, sizeof line,
                      "{\"event\":\"worker\",\"epoch\":%d,\"worker\":%d,\"device\":\"%s\",\"samples\":%lld,"
                      "\"samples_per_sec\":%.1f,\"compute_seconds\":%.6f,\"data_wait_seconds\":%.6f,"
                      "\"averaging_wait_seconds\":%.6f,\"averaging_seconds\":%.6f,\"averagings\":%lld,"
                      "\"train_loss\":%.6f}",
                      epoch, w.worker, w.device.c_str(), static_cast<long long>(w.samples), w.samplesPerSecond,
                      w.computeSeconds, w.dataWaitSeconds, w.averagingWaitSeconds, w.averagingSeconds,
                      static_cast<long long>(w.averagings), w.trainLoss);
        outputs_.metrics.writeRaw(line);
    }
}

void RunListener::onAveraging(const parallel::AveragingEvent& event) {
    char line[256];
    if (event.score >= 0.0) {
        std::snprintf(line, sizeof line,
                      "{\"event\":\"averaging\",\"iteration\":%lld,\"seconds\":%.6f,\"bytes\":%lld,\"score\":%.6f}",
                      static_cast<long long>(event.iteration), event.seconds, static_cast<long long>(event.bytes),
                      event.score);
        if (!options_.quiet) {
            if (outputs_.progress) outputs_.progress->clear();
            std::printf("iteration %lld: score after averaging %.4f\n", static_cast<long long>(event.iteration), event.score);
        }
    } else {
        std::snprintf(line, sizeof line, "{\"event\":\"averaging\",\"iteration\":%lld,\"seconds\":%.6f,\"bytes\":%lld}",
                      static_cast<long long>(event.iteration), event.seconds, static_cast<long long>(event.bytes));
    }
    outputs_.metrics.writeRaw(line);
}

void RunListener::onProgress(const parallel::ProgressTick& tick) {
    if (outputs_.progress) outputs_.progress->update(tick);
}

void RunListener::onDone(const train::RunSummary& s) {
    if (s.stopped) return;  // the command writes the "stopped" event, with the exit code
    outputs_.metrics.writeDone(s);
    writeReport();
    if (options_.quiet) return;
    if (outputs_.progress) outputs_.progress->clear();
    if (setup_.data.train.windowed()) {
        std::printf("done: val loss %.4f (%.3f bits/token) after %lld iterations in %.1f s\n", s.testLoss,
                    s.testLoss / std::log(2.0), static_cast<long long>(s.iterations), s.seconds);
        return;
    }
    std::printf("done: test accuracy %.2f%% after %d epochs (%lld iterations) in %.1f s\n", 100.0 * s.testAccuracy,
                s.epochs, static_cast<long long>(s.iterations), s.seconds);
}

void RunListener::writeReport() {
    if (outputs_.reportPath.empty()) return;
    launch::writeReport(outputs_.reportPath, outputs_.metrics.records(), outputs_.chartJs);
}

}  // namespace cohort::launch
