#pragma once
// The cohort command line (see docs/CLI.md and README): Boost.Program_options definitions for
// each subcommand, an INI config file (--config) whose keys are the flag names, the command line
// winning, and every value parsed and validated into a typed RunOptions (enums, sizes, byte counts,
// lists) before anything else happens: the code that sets a run up never sees flag text. Errors
// are InputError (exit 2).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "parallel/ParallelConfig.h"
#include "parallel/ScalingModel.h"
#include "src/nn/Architectures.h"
#include "src/optim/LearningRateScaling.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/optim/Optimizer.h"
#include "src/train/TrainingStep.h"

namespace cohort::launch {

enum class DeviceChoice { Auto, Cpu, Cuda };  // --device

struct RunOptions {
    // model
    std::string model = "mlp";
    std::vector<std::int64_t> hidden = {1024, 1024};
    double dropout = nn::RecommendedSettings{}.dropout;  // lenet: see nn::recommendedSettings
    std::string activation = "relu";
    std::string modelFile;  // JSON layers (docs/MODEL-FILES.md); replaces the four above
    // --model gpt
    std::int64_t layers = 4, heads = 4, embed = 128, context = 64;
    bool tieEmbeddings = false;
    std::int64_t vocabulary = 65;  // bench and plan: the vocabulary of their random tokens
    // data
    std::string data = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | csv | synthetic (checked)
    std::string dataDir;  // empty: the data set's default directory
    // --data text (docs/LANGUAGE-MODELS.md)
    std::string dataFile;
    double valFraction = 0.1;
    std::string tokenizer = "char";  // char | byte (checked)
    std::int64_t evalIters = 20;     // validation: this many batches of fixed windows
    std::int64_t evalInterval = 0;   // iterations between validations (0: 250 when it divides --max-iters, else --max-iters)
    std::int64_t maxIters = 0;       // text: iterations per replica (0: 2,000)
    // device
    DeviceChoice device = DeviceChoice::Auto;
    std::vector<int> devices;  // --devices 0,1; empty: all visible
    int threadsPerWorker = 0;
    bool cudaGraphs = true;  // capture the training step once and replay it (CUDA)
    bool tf32 = false;       // allow TF32 tensor cores for fp32 GEMMs and convolutions (CUDA)
    // parallel
    int workers = 0;         // 0: one per GPU, or 1 on the CPU
    int averagingFrequency = 1;
    bool averageUpdaters = true;
    parallel::TrainingMode trainingMode = parallel::TrainingMode::Averaging;
    bool overlapGradients = true;   // shared gradients: average buckets during the backward pass
    std::int64_t bucketBytes = std::int64_t(1) << 20;  // shared gradients: bytes per gradient bucket, at least
    parallel::OuterOptimizerKind outerOptimizer = parallel::OuterOptimizerKind::None;
    double outerLearningRate = 0.7;
    double outerMomentum = 0.9;
    int prefetchBuffer = 4;
    bool reportScoreAfterAveraging = false;
    double mpiTimeout = 20.0;  // seconds any wait on another MPI rank may last
    // training
    int epochs = 5;
    std::int64_t batchSize = nn::RecommendedSettings{}.batchSize;
    optim::OptimizerKind optimizer = optim::OptimizerKind::Adam;
    std::optional<double> learningRate;
    optim::LearningRateScaling lrScaling = optim::LearningRateScaling::None;  // by the job's replica count
    double momentum = 0.9;
    double weightDecay = 0.0;
    bool decayMatricesOnly = false;  // --optimizer adamw
    double beta2 = 0.999;
    double minLearningRate = 0.0;    // the cosine schedule's end (--min-lr)
    double gradientClip = 0.0;       // --grad-clip (0: none)
    optim::ScheduleKind lrSchedule = optim::ScheduleKind::Cosine;
    std::int64_t warmupSteps = 0;
    double warmupEpochs = 0.0;  // the warm-up in epochs of the job's rounds, instead of warmupSteps
    std::uint64_t seed = 1;
    train::WorkspaceMode workspaceMode = train::WorkspaceMode::Enabled;
    std::int64_t maxBytes = 0;          // 0: unlimited
    std::int64_t maxPhysicalBytes = 0;  // 0: unlimited
    // output
    std::string metricsPath;
    std::string configPath;  // --config, when given
    std::string reportPath;  // HTML report, rewritten at every epoch end
    std::string tracePath;   // Chrome trace of every worker
    std::int64_t traceSteps = 20000;  // steps per worker the trace keeps (bounds its size)
    std::string reportInput;   // cohort report: the metrics file
    bool quiet = false;
    std::string logLevel = "info";
    bool scopeChecks = false;
    // checkpoints
    std::string checkpointDir;         // periodic and epoch-end checkpoints go here
    std::int64_t checkpointEvery = 0;  // iterations between checkpoints (0: at epoch ends only)
    int keepCheckpoints = 3;           // newest checkpoints kept in checkpointDir
    std::string savePath;              // the final model (a checkpoint of the run's end)
    std::string resumePath;            // a checkpoint file, or a directory: its newest valid one
    // evaluate
    std::string loadPath;
    std::string outputPath;            // cohort report -o
    bool jsonFormat = false;           // evaluate's stdout: --format json (else table)
    std::int64_t evaluationBatch = 0;  // 0: the batch the training run evaluated with
    // generate
    std::string prompt;              // empty: a line break when the vocabulary has one
    std::int64_t generateTokens = 500;
    double temperature = 1.0;
    std::int64_t topK = 0;           // 0: every token
    // bench
    int benchSteps = 50;
    int benchWarmup = 10;
    int benchRepeats = 5;
    // plan (docs/PLANNER.md)
    int planHosts = 0;               // processes of the planned job (0: the mpirun size, else 1)
    int planRanksPerHost = 0;        // of them on one machine, sharing its cores (0: as under mpirun, else 1)
    std::optional<double> planLatencySeconds;         // --latency 50us
    std::optional<double> planBandwidthBytesPerSecond;  // --bandwidth 1gbit
    bool planProbe = false;          // time the link between the ranks of this mpirun job
    std::int64_t planProbeLargest = std::int64_t(16) << 20;  // the largest allreduce the probe times (1K..1G)
    double planStepMilliseconds = 0.0;       // > 0: the step's time, not measured
    std::optional<double> planLocalAveragingMilliseconds;  // the in-process part of an averaging point, not measured
    double planTargetFraction = 0.10;
    std::int64_t planTrainSamples = -1;    // training samples per epoch (-1: counted from --data; 0: leave epoch ends out)
    parallel::AllreduceAlgorithm planAllreduce = parallel::AllreduceAlgorithm::Binomial;
    bool planJson = false;
    bool averagingFrequencyGiven = false;  // --averaging-frequency given (plan predicts that K too)
    // info
    bool infoLoadCuda = false;  // load the CUDA module without a driver, to list its libraries
};

// Parses `arguments` (without the program name and subcommand) for `subcommand`. Returns
// nullopt when --help was given (the help text is then printed to stdout).
std::optional<RunOptions> parseOptions(const std::string& subcommand, const std::vector<std::string>& arguments);
// The full help text of a subcommand.
std::string helpText(const std::string& subcommand);
std::string usageText();

}  // namespace cohort::launch
