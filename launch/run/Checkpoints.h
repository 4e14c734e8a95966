#pragma once
// A run's checkpoints as the CLI keeps them: what a file holds beyond the training snapshot,
// where files go, and which one a resumed run continues from.
//
// A checkpoint (src/train/CheckpointFile: safetensors layout, checksums, atomic writes) holds
// the snapshot (parallel/TrainingSnapshot) and, in its metadata:
//   settings          the resolved training settings (launch/ConfigurationAgreement's lines)
//   model             how to build the model again: the architecture flags, or the text of
//                     the --model-file
//   evaluation_batch  the batch the run evaluated with (cohort evaluate reproduces it exactly)
//   reason            periodic | epoch-end | run-end | stop;  cohort_version
// docs/CHECKPOINTS.md describes the format for readers outside cohort.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/data/TextCorpus.h"
#include "launch/options/Options.h"
#include "launch/run/RunSetup.h"
#include "parallel/Communicator.h"
#include "parallel/ParallelListener.h"
#include "parallel/TrainingSnapshot.h"
#include "src/train/CheckpointFile.h"

namespace cohort::launch {

train::CheckpointFile runCheckpoint(const parallel::TrainingSnapshot& snapshot, const RunOptions& options,
                                    const RunSetup& setup, parallel::SnapshotReason reason);

// --checkpoint-dir: files named checkpoint-i<iteration>-e<epoch>.safetensors (so names sort by
// progress), the newest `keep` kept.
class CheckpointDirectory {
public:
    CheckpointDirectory(std::string directory, int keep);  // creates the directory; InputError if it cannot
    // Writes `file` (atomically) and prunes; returns its path.
    std::string write(const train::CheckpointFile& file, std::int64_t iteration, int epoch);
    const std::string& path() const { return directory_; }

private:
    std::string directory_;
    int keep_;
};

// The newest checkpoint in `directory` that reads back intact, and its bytes (a truncated or
// corrupt newer one is skipped, and said so on stderr). Throws CheckpointError when there is none.
struct CheckpointBytes {
    std::string path;
    std::vector<unsigned char> bytes;
};
CheckpointBytes newestValidCheckpoint(const std::string& directory);

// Where a resumed run continues from: the checkpoint file, and the checkpoint's --epochs when this
// run trains longer than the run that wrote it (0: the same --epochs).
struct ResumeSource {
    std::string path;
    int epochsBefore = 0;
    int replicasBefore = 0;             // the checkpoint's replica count when this job has another (0: the same)
    std::int64_t iterationBefore = 0;   // its iteration then (the position is mapped to this job's rounds)
};

// --resume: the snapshot to continue from. Rank 0 reads the file (or the newest valid one of
// the directory) and every process of the job gets its bytes (collective when `processes` has
// several). Refused with InputError (exit 2) naming the first setting that differs from this
// run's — the model, the optimizer and the data before anything that follows from them — or why
// the file cannot be used. More --epochs than the checkpoint's is not a difference: the run goes
// on to the new last epoch (source.epochsBefore says so); fewer is refused.
parallel::TrainingSnapshot snapshotToResume(const RunOptions& options, const RunSetup& setup,
                                            parallel::ProcessGroup* processes, ResumeSource& source);

// cohort evaluate: the model a checkpoint was trained as, for per-sample input `inputSample`
// and `classes` outputs, with the checkpoint's parameters and statistics.
std::unique_ptr<nn::Model> modelFromCheckpoint(const train::CheckpointFile& file, const std::string& source,
                                               const Shape& inputSample, int classes);
std::int64_t evaluationBatchOf(const train::CheckpointFile& file);

// What a language model's checkpoint carries besides its parameters: its context and vocabulary,
// and how its text was split (for evaluate). nullopt for other models; CheckpointError when damaged.
struct TextRecipe {
    std::int64_t context = 0;
    data::Vocabulary vocabulary;
    std::string tokenizer;
    double valFraction = 0.1;
    std::int64_t validationWindows = 240;  // --eval-iters x --batch-size of the training run
};
std::optional<TextRecipe> textRecipeOf(const train::CheckpointFile& file, const std::string& source);
// The language model of a checkpoint, for samples of its context over its vocabulary.
std::unique_ptr<nn::Model> languageModelFromCheckpoint(const train::CheckpointFile& file, const std::string& source,
                                                       const TextRecipe& text);

}  // namespace cohort::launch
