#include "launch/run/RunSetup.h"

#include <cstdio>
#include <algorithm>
#include <limits>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <thread>

#include "memory/Memory.h"
#include "parallel/CommunicatorFactory.h"
#include "parallel/EpochSchedule.h"
#include "parallel/PrefetchBuffer.h"
#include "src/core/Errors.h"
#include "src/core/FileKind.h"
#include "src/core/IntegerList.h"
#include "src/data/Data.h"
#include "src/data/TextCorpus.h"

namespace cohort::launch {

int threadsPerWorkerFor(int requested, int workers, int processesOnMachine) {
    if (requested > 0) return requested;
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    return std::max(1, cores / (std::max(1, workers) * std::max(1, processesOnMachine)));
}

void applyMemoryFlags(const RunOptions& options) {
    if (options.scopeChecks) memory::setScopePanicChecks(true);
    auto& budget = memory::MemoryBudget::global();
    budget.setMaxBytes(options.maxBytes);
    budget.setMaxPhysicalBytes(options.maxPhysicalBytes);
}

data::DatasetSplits loadTextData(const RunOptions& options, std::int64_t validationWindows) {
    if (options.dataFile.empty()) {
        throw InputError("--data text needs --data-file PATH (scripts/setup.sh prepares data/shakespeare/plays.txt)");
    }
    if (!(options.valFraction > 0.0 && options.valFraction < 1.0)) {
        throw InputError("--val-fraction must be in (0, 1), got " + std::to_string(options.valFraction));
    }
    if (validationWindows == 0) {
        if (options.evalIters < 1 || options.evalIters > 100000) {
            throw InputError("--eval-iters must be between 1 and 100000, got " + std::to_string(options.evalIters));
        }
        validationWindows = options.evalIters * options.batchSize;
    }
    const data::Tokenizer tokenizer = options.tokenizer == "byte" ? data::Tokenizer::Byte : data::Tokenizer::Char;
    const data::TextCorpus corpus = data::loadTextCorpus(options.dataFile, tokenizer, options.valFraction, options.context + 1);
    return data::makeTextSplits(corpus, options.context, validationWindows);
}

data::DatasetSplits loadData(const RunOptions& options) {
    if (options.model == "gpt" && options.modelFile.empty() && options.data != "text") {
        throw InputError("--model gpt trains on text: give --data text --data-file PATH");
    }
    data::DatasetSplits splits;
    if (options.data == "fashion-mnist" || options.data == "mnist") {
        const std::string directory = !options.dataDir.empty() ? options.dataDir
                                      : options.data == "fashion-mnist" ? "/usr/share/datasets/fashion-mnist"
                                                                        : "/usr/share/datasets/mnist";
        splits = data::loadMnistFormat(directory, options.data);
    } else if (options.data == "cifar10") {
        splits = data::loadCifar10(!options.dataDir.empty() ? options.dataDir : "/usr/share/datasets/cifar10");
    } else if (options.data == "csv") {
        // --data-dir holds train.csv and test.csv: label in the first column, then the features.
        if (options.dataDir.empty()) throw InputError("--data csv needs --data-dir with train.csv and test.csv");
        if (const std::string why = whyNotDirectory(options.dataDir); !why.empty())
            throw InputError("--data-dir " + options.dataDir + " " + why + "; --data csv reads DIR/train.csv and DIR/test.csv");
        splits = data::loadCsv(options.dataDir + "/train.csv", options.dataDir + "/test.csv", 0);
    } else if (options.data == "text") {
        if (options.model != "gpt" && options.modelFile.empty()) {
            throw InputError("--data text trains a language model: give --model gpt (or a --model-file that predicts per token)");
        }
        return loadTextData(options);  // token ids: never normalised
    } else if (options.data == "synthetic") {
        // Learnable class prototypes plus noise, 1x28x28, 10 classes: for benchmarks and smoke tests.
        splits = data::splitTrainTest(data::makeSynthetic(12000, {1, 28, 28}, 10, options.seed), 2000.0 / 12000.0,
                                      options.seed);
    } else {  // (the options room accepts only the names above)
        throw std::logic_error("unknown data set '" + options.data + "'");
    }
    data::normalizeWithTrainStatistics(splits);
    return splits;
}

memory::MemoryLocation chooseLocation(const RunOptions& options) {
    switch (options.device) {
        case DeviceChoice::Cpu: return memory::MemoryLocation::host();
        case DeviceChoice::Cuda:
            if (kernels::cudaDeviceCount() == 0) {
                throw InputError(kernels::cudaCompiledIn() ? "no CUDA device: --device cuda needs a visible GPU; use --device cpu"
                                                           : "no CUDA device: this cohort was built without CUDA; use --device cpu");
            }
            return memory::MemoryLocation::onDevice(0);
        case DeviceChoice::Auto: break;
    }
    if (kernels::cudaDeviceCount() > 0) return memory::MemoryLocation::onDevice(0);
    if (!options.quiet) std::printf("no CUDA device found: training on the CPU\n");
    return memory::MemoryLocation::host();
}

std::vector<int> checkDevices(const std::vector<int>& requested, int visible) {
    std::vector<int> devices;
    if (requested.empty()) {
        for (int d = 0; d < visible; ++d) devices.push_back(d);
        return devices;
    }
    for (const int value : requested) {
        if (value >= visible) {
            throw InputError("--devices names GPU " + std::to_string(value) + " but only " + std::to_string(visible) +
                             " are visible");
        }
    }
    return requested;
}

std::vector<int> chooseDevices(const std::vector<int>& requested, int visible, const ProcessPlacement& placement) {
    if (!requested.empty() || placement.localSize <= 1 || visible <= 0) return checkDevices(requested, visible);
    const int perProcess = std::max(1, visible / placement.localSize);
    std::vector<int> devices;
    for (int i = 0; i < perProcess; ++i) devices.push_back((placement.localRank * perProcess + i) % visible);
    return devices;
}

optim::OptimizerConfig optimizerFrom(const RunOptions& options) {
    optim::OptimizerConfig optimizer;
    optimizer.kind = options.optimizer;
    optimizer.learningRate = options.learningRate.value_or(optimizer.kind == optim::OptimizerKind::Adam ? 1e-3 : 0.05);
    optimizer.momentum = options.momentum;
    optimizer.weightDecay = options.weightDecay;
    optimizer.beta2 = options.beta2;
    optimizer.decayMatricesOnly = options.decayMatricesOnly;
    if (!(options.beta2 >= 0.0 && options.beta2 < 1.0)) throw InputError("--beta2 must be in [0, 1), got " + std::to_string(options.beta2));
    optimizer.validate();
    return optimizer;
}

// --max-iters, 2,000 when not given.
std::int64_t textIterations(const RunOptions& options) { return options.maxIters > 0 ? options.maxIters : 2000; }

std::int64_t evaluationInterval(const RunOptions& options) {
    const std::int64_t iterations = textIterations(options);
    if (options.evalInterval > 0) return options.evalInterval;
    return iterations % 250 == 0 ? 250 : iterations;
}

train::TrainerConfig trainerFrom(const RunOptions& options, double learningRate) {
    train::TrainerConfig trainer;
    trainer.epochs = options.epochs;
    trainer.batchSize = options.batchSize;
    trainer.seed = options.seed;
    trainer.workspaceMode = options.workspaceMode;
    trainer.captureSteps = options.cudaGraphs;
    trainer.schedule = options.lrSchedule;
    trainer.warmupSteps = options.warmupSteps;
    if (!(options.gradientClip >= 0.0) || !std::isfinite(options.gradientClip)) {
        throw InputError("--grad-clip must be >= 0 (0: off), got " + std::to_string(options.gradientClip));
    }
    trainer.gradientClip = options.gradientClip;
    if (!(options.minLearningRate >= 0.0 && options.minLearningRate < learningRate)) {
        throw InputError("--min-lr must be >= 0 and below --lr " + std::to_string(learningRate) + ", got " +
                         std::to_string(options.minLearningRate));
    }
    trainer.finalLearningRateFraction = options.minLearningRate / learningRate;
    if (options.data == "text") trainer.epochs = int(textEpochs(options));
    trainer.validate();
    if (!(options.warmupEpochs >= 0.0) || !std::isfinite(options.warmupEpochs)) {
        throw InputError("--warmup-epochs must be >= 0, got " + std::to_string(options.warmupEpochs));
    }
    if (options.warmupEpochs > 0.0 && options.warmupSteps > 0) {
        throw InputError("--warmup-steps and --warmup-epochs both set the warm-up; give one of them");
    }
    return trainer;
}

// --data text: evaluation intervals of --max-iters.
std::int64_t textEpochs(const RunOptions& options) {
    const std::int64_t iterations = textIterations(options);
    const std::int64_t interval = evaluationInterval(options);
    if (options.maxIters < 0 || options.evalInterval < 0) throw InputError("--max-iters and --eval-interval must be >= 1");
    if (iterations % interval != 0) {
        throw InputError("--max-iters " + std::to_string(iterations) + " is not a multiple of --eval-interval " +
                         std::to_string(interval));
    }
    if (iterations / interval > 1000000) throw InputError("--eval-interval " + std::to_string(interval) + " is too small for --max-iters");
    return iterations / interval;
}

nn::ArchitectureConfig architectureFrom(const RunOptions& options) {
    nn::ArchitectureConfig architecture;
    architecture.name = options.model;
    architecture.layers = options.layers;
    architecture.heads = options.heads;
    architecture.embed = options.embed;
    architecture.tieEmbeddings = options.tieEmbeddings;
    if (options.tieEmbeddings && options.model != "gpt") throw InputError("--tie-embeddings is for --model gpt");
    if (options.model == "gpt" && options.dropout > 0.0) {
        throw InputError("--model gpt has no dropout yet; leave --dropout at 0 (its default for gpt)");
    }
    if (options.model == "gpt" && (options.context < 1 || options.context > 65536)) {
        throw InputError("--context must be between 1 and 65536, got " + std::to_string(options.context));
    }
    architecture.hidden = options.hidden;
    architecture.dropout = options.dropout;
    architecture.activation = options.activation;
    if (!(options.dropout >= 0.0 && options.dropout < 1.0)) {
        throw InputError("--dropout must be in [0, 1), got " + std::to_string(options.dropout));
    }
    nn::buildLayers(architecture, 10);  // validates --model/--activation before any data is loaded
    return architecture;
}

std::optional<nn::ModelDescription> modelDescriptionFrom(const RunOptions& options) {
    if (options.modelFile.empty()) return std::nullopt;
    nn::ModelDescription description = nn::readModelDescriptionFile(options.modelFile);
    description.buildLayers(10);  // the classes come with the data; the layers' own checks run now
    return description;
}

std::unique_ptr<nn::Model> buildModelFrom(const nn::ArchitectureConfig& architecture,
                                          const std::optional<nn::ModelDescription>& description,
                                          const Shape& inputSample, int classes, MemoryLocation location) {
    if (description) return description->buildModel(inputSample, classes, DType::Float32, location);
    return nn::buildModel(architecture, inputSample, classes, DType::Float32, location);
}

namespace {

// When the class count is what makes a run large, the message says where it comes from.
std::string classesNote(int classes) {
    if (classes <= 1000) return "";
    return " (the data's largest label is " + std::to_string(classes - 1) + ", so the model has " + std::to_string(classes) +
           " outputs and a " + std::to_string(classes) + " x " + std::to_string(classes) + " confusion matrix)";
}

}  // namespace

RunSetup prepareRun(const RunOptions& options, const ProcessPlacement& placement) {
    RunSetup setup;
    applyMemoryFlags(options);
    // Settings first (cheap), data second, so a bad value never waits for a data load.
    setup.optimizer = optimizerFrom(options);
    setup.trainer = trainerFrom(options, setup.optimizer.learningRate);
    setup.scheduleText = std::string(optim::toString(options.lrSchedule)) + " learning rate";
    setup.lrScaling = optim::resolveScaling(options.lrScaling, setup.optimizer.kind);
    if (options.threadsPerWorker < 0) throw InputError("--threads-per-worker must be >= 0");
    setup.modelDescription = modelDescriptionFrom(options);
    if (!setup.modelDescription) setup.architecture = architectureFrom(options);
    setup.location = chooseLocation(options);

    auto& parallel = setup.parallel;
    if (options.workers < 0) {
        throw InputError("--workers must be >= 0 (0: one per GPU, or 1 on the CPU), got " + std::to_string(options.workers));
    }
    if (setup.location.isDevice()) parallel.devices = chooseDevices(options.devices, kernels::cudaDeviceCount(), placement);
    parallel.workers = options.workers > 0 ? options.workers
                                           : (setup.location.isDevice() ? int(parallel.devices.size()) : 1);
    parallel.threadsPerWorker = threadsPerWorkerFor(options.threadsPerWorker, parallel.workers, placement.localSize);
    parallel::checkLayout(parallel.workers, parallel.devices, placement.processes);
    parallel.averagingFrequency = options.averagingFrequency;
    parallel.averageUpdaters = options.averageUpdaters;
    parallel.allowTf32 = options.tf32;
    parallel.trainingMode = options.trainingMode;
    parallel.overlapGradientAveraging = options.overlapGradients;
    parallel.gradientBucketBytes = options.bucketBytes;
    parallel.outer = {options.outerOptimizer, options.outerLearningRate, options.outerMomentum};
    parallel.prefetchBuffer = options.prefetchBuffer;
    parallel.reportScoreAfterAveraging = options.reportScoreAfterAveraging;
    parallel.totalReplicas = std::max(1, placement.processes) * parallel.workers;  // under mpirun, every process's
    setup.resuming = !options.resumePath.empty();
    parallel.validate();
    // Scaled by the job's replicas, known here: the placement counts every process under mpirun.
    setup.baseLearningRate = setup.optimizer.learningRate;
    setup.lrScale = optim::learningRateScale(setup.lrScaling, setup.optimizer.kind, parallel.totalReplicas);
    setup.optimizer.learningRate = setup.baseLearningRate * setup.lrScale;
    if (setup.lrScaling != optim::LearningRateScaling::None) {
        char scaled[120];
        std::snprintf(scaled, sizeof scaled, ", lr %g x %g (%s scaling, %d replica(s))", setup.baseLearningRate,
                      setup.lrScale, optim::toString(setup.lrScaling), parallel.totalReplicas);
        setup.scheduleText += scaled;
    }

    setup.data = loadData(options);
    if (setup.data.train.windowed()) {  // an "epoch" of text: one evaluation interval of every replica
        setup.data.train.count = std::size_t(evaluationInterval(options) * setup.trainer.batchSize * parallel.totalReplicas);
    }
    if (options.warmupEpochs > 0.0) {  // in the job's rounds, which the replicas and the data decide
        const parallel::EpochSchedule rounds(setup.data.train.count, std::size_t(setup.trainer.batchSize), parallel.totalReplicas);
        setup.trainer.warmupSteps = std::max<std::int64_t>(1, std::llround(options.warmupEpochs * double(rounds.rounds)));
    }
    if (setup.trainer.warmupSteps > 0) setup.scheduleText += ", warm-up " + std::to_string(setup.trainer.warmupSteps) + " steps";
    const auto& sampleShape = setup.data.train.sampleShape;
    Shape inputSample(std::vector<std::int64_t>(sampleShape.begin(), sampleShape.end()));
    try {
        setup.model = buildModelFrom(setup.architecture, setup.modelDescription, inputSample, setup.data.train.numClasses,
                                     MemoryLocation::host());
    } catch (const memory::OutOfMemoryError& error) {
        throw InputError("the model's parameters alone need " + memory::formatBytes(std::int64_t(error.bytes())) +
                         ", more than this machine can allocate; make it smaller (" +
                         (setup.modelDescription ? "the layers of --model-file" : "--hidden") + ", or the data's " +
                         std::to_string(setup.data.train.numClasses) + " classes)");
    }
    setup.model->initialize(options.seed);
    if (setup.optimizer.decayMatricesOnly) setup.optimizer.decayRanges = setup.model->weightMatrixRanges();
    if (setup.data.train.windowed() && setup.model->predictionsPerSample() != options.context) {
        throw InputError("--data text needs a model that predicts every one of its " + std::to_string(options.context) +
                         " positions; " + setup.model->describe() + " predicts " +
                         std::to_string(setup.model->predictionsPerSample()) + " per sample");
    }
    setup.trainer.evaluationBatchSize = evaluationBatchFor(*setup.model, setup.trainer.batchSize);
    checkMemoryFits(setup);
    return setup;
}

std::int64_t evaluationBatchFor(const nn::Model& model, std::int64_t trainingBatch) {
    // Evaluation keeps no gradients, so it takes larger batches than training; but a
    // convolution's working memory grows with the batch. Aim at ~64 MiB of activations and
    // working memory, between the training batch and 1,000 samples.
    constexpr std::int64_t kTargetBytes = std::int64_t(64) << 20, kLargest = 1000;
    const std::int64_t perSample = std::max<std::int64_t>(
        1, (model.activationElementsPerSample() + model.workingElementsPerSample()) * std::int64_t(sizeof(float)));
    return std::clamp(kTargetBytes / perSample, std::min(trainingBatch, kLargest), kLargest);
}

namespace {

std::int64_t residentMargin(const RunSetup& setup) {
    // Host memory that no prediction counts: the BLAS library's per-thread packing buffers,
    // oneDNN's primitives, thread stacks, the C library's small blocks. Measured on the CPU
    // (docs/BAD-INPUT.md#budgets): at most 3 MiB beyond the prediction, up to 16 BLAS threads;
    // allowed: 8 MiB, and 2 MiB per BLAS thread and per loader thread. A GPU worker's CUDA
    // libraries load kernels and keep host state as they are first used (after this check):
    // 256 MiB each, an allowance.
    constexpr std::int64_t MiB = std::int64_t(1) << 20;
    const std::int64_t workers = setup.parallel.workers;
    const std::int64_t threads = memory::saturatingMultiply(workers, std::int64_t(setup.parallel.threadsPerWorker) + 1);
    std::int64_t margin = memory::saturatingAdd(8 * MiB, memory::saturatingMultiply(threads, 2 * MiB));
    if (setup.location.isDevice()) margin = memory::saturatingAdd(margin, memory::saturatingMultiply(workers, 256 * MiB));
    return margin;
}

}  // namespace

void checkMemoryFits(const RunSetup& setup) {
    const nn::Model& model = *setup.model;
    const parallel::ParallelConfig& parallel = setup.parallel;
    // Convolutions ask a backend of the workers' kind for their working memory (cuDNN's or
    // oneDNN's choice, or the CPU's im2col); one of its own, so that what it prepares for the
    // question goes with it.
    const std::unique_ptr<kernels::Backend> backend = setup.location.isDevice()
                                                          ? kernels::makeCudaBackend(setup.location.device, parallel.allowTf32)
                                                          : kernels::makeCpuBackend(0);
    const memory::MemoryDemand demand =
        parallel::ParallelWrapper::memoryFor(model, setup.optimizer, setup.trainer, parallel, setup.data, setup.resuming, *backend);
    const std::int64_t margin = residentMargin(setup);
    const std::int64_t workers = parallel.workers;
    const std::int64_t batch = setup.trainer.batchSize;
    const std::string what = "the training job (predicted before training: " + std::to_string(workers) +
                             " replica(s) with activations for batch " + std::to_string(batch) + ")";
    auto& budget = memory::MemoryBudget::global();
    // Without a budget the machine is the limit: a run that cannot fit in its physical memory is
    // refused now, naming what makes it large, not by the operating system minutes later.
    const std::int64_t physical = memory::physicalMemoryBytes();
    const std::int64_t needed = memory::saturatingAdd(
        memory::saturatingAdd(memory::MemoryBudget::residentBytes(), demand.residentGrowth()), margin);
    if (physical > 0 && budget.maxBytes() == 0 && needed > physical) {
        // One replica's parts, where they live, for the message.
        const std::int64_t element = std::int64_t(kernels::sizeOf(model.dtype()));
        const std::int64_t rows = std::clamp<std::int64_t>(std::int64_t(setup.data.train.count), 1, batch);
        const memory::MemoryDemand step = train::TrainingStep::memoryFor(
            model, setup.location, rows, setup.trainer.workspaceMode, setup.trainer.captureSteps && setup.location.isDevice(), *backend);
        const memory::MemoryDemand prefetch = parallel::PrefetchBuffer::memoryFor(
            parallel.prefetchBuffer, std::size_t(batch), setup.data.train.featureSize,
            setup.location.isDevice() ? MemoryLocation::pinnedHost() : MemoryLocation::host());
        const std::int64_t stateElements = optim::stateElementCount(setup.optimizer.kind, model.parameterCount());
        const std::int64_t parameters = memory::saturatingMultiply(
            memory::saturatingAdd(memory::saturatingMultiply(model.parameterCount(), 2), stateElements), element);
        throw InputError(what + " needs about " + memory::formatBytes(needed) + " of host memory (per replica: " +
                         memory::formatBytes(parameters) + " parameters, gradients and optimizer state, " +
                         memory::formatBytes(step.total()) + " of activations for --batch-size " + std::to_string(batch) +
                         ", " + memory::formatBytes(prefetch.total()) + " for --prefetch-buffer " +
                         std::to_string(parallel.prefetchBuffer) + "), more than this machine's " +
                         memory::formatBytes(physical) + classesNote(setup.data.train.numClasses) +
                         "; lower --batch-size, --prefetch-buffer, --workers or the model's size");
    }
    budget.checkWouldFit(demand, margin, what);
}

}  // namespace cohort::launch
