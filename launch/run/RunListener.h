#pragma once
// RunListener: what `cohort train` does with a run's progress, on worker 0 of rank 0: the console
// lines and the progress line, the --metrics events, checkpoints (--checkpoint-dir, --save) and
// the --report, rewritten at every epoch end.
#include <string>
#include <vector>

#include "launch/run/Checkpoints.h"
#include "launch/outputs/MetricsWriter.h"
#include "launch/options/Options.h"
#include "launch/outputs/ProgressLine.h"
#include "launch/run/RunSetup.h"
#include "parallel/ParallelListener.h"
#include "parallel/TrainingSnapshot.h"

namespace cohort::launch {

struct RunOutputs {
    MetricsWriter& metrics;
    CheckpointDirectory* checkpoints = nullptr;  // --checkpoint-dir (rank 0), or none
    ProgressLine* progress = nullptr;            // on a terminal, or none
    std::string reportPath;                      // --report (rank 0), or empty
    std::string chartJs;                         // its Chart.js
};

class RunListener final : public parallel::ParallelListener {
public:
    RunListener(const RunOptions& options, const RunSetup& setup, RunOutputs outputs);

    void onEpoch(const train::EpochMetrics& metrics) override;
    void onWorkerStatistics(int epoch, const std::vector<parallel::WorkerStatistics>& workers) override;
    void onAveraging(const parallel::AveragingEvent& event) override;
    void onDone(const train::RunSummary& summary) override;
    void onSnapshot(const parallel::TrainingSnapshot& snapshot, parallel::SnapshotReason reason) override;
    void onProgress(const parallel::ProgressTick& tick) override;

    // The report from every event so far (at the end of a stopped or failed run too).
    void writeReport();
    const std::string& lastCheckpoint() const { return lastCheckpoint_; }
    const parallel::TrainingSnapshot& stoppedAt() const { return stoppedAt_; }

private:
    void saveModel(const train::CheckpointFile& file);  // --save; names the checkpoint holding it when it fails

    const RunOptions& options_;
    const RunSetup& setup_;
    RunOutputs outputs_;
    std::string lastCheckpoint_;
    parallel::TrainingSnapshot stoppedAt_;
};

}  // namespace cohort::launch
