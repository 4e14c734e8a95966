#include "launch/options/Options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "launch/options/Flags.h"
#include "launch/options/LinkUnits.h"
#include "src/core/Errors.h"
#include "src/core/FileKind.h"
#include "src/core/IntegerList.h"
#include "src/nn/Architectures.h"

namespace po = boost::program_options;

namespace cohort::launch {
namespace {

// The texts Boost substitutes into its message template ("value", "option", ...), which it keeps
// protected.
std::map<std::string, std::string>& substitutions(po::error_with_option_name& error) {
    struct Access : po::error_with_option_name {
        using po::error_with_option_name::m_substitutions;
    };
    return error.*(&Access::m_substitutions);
}

// Boost substitutes the offending text into its message template in a loop that never ends when
// the text itself holds a placeholder ("--lr %value%" hung before any message). Every substituted
// text's '%' becomes "%25" before what() is first called.
void defusePlaceholders(po::error_with_option_name& error) {
    for (auto& [key, text] : substitutions(error)) {
        std::string safe;
        for (const char c : text) safe += c == '%' ? std::string("%25") : std::string(1, c);
        text = safe;
    }
}

// Boost says only "the argument ('X') for option '--name' is invalid"; when X is a number, the
// message says what is wrong with it (out of range, or a fraction where a count belongs).
std::string explainInvalidValue(po::invalid_option_value& error) {
    const std::string text = error.what();
    const auto found = substitutions(error).find("value");
    if (found == substitutions(error).end()) return text;
    const std::string& value = found->second;
    errno = 0;
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    const bool range = errno == ERANGE;
    if (value.empty() || end != value.c_str() + value.size() || std::isspace(static_cast<unsigned char>(value[0]))) {
        return text;  // not a number: Boost's words are right
    }
    const std::string head = "the argument ('" + value + "') for option '" + error.get_option_name() + "' ";
    if (range || std::isinf(number)) return head + "is out of range (too large or too small to represent)";
    if (std::isnan(number)) return head + "is not a number";
    if (number != std::floor(number)) return head + "must be a whole number";
    return head + "is out of range for this flag";
}

// The flags whose text becomes a typed value of RunOptions (typedFlags below): Boost fills these,
// with the defaults the help shows, and nothing outside this file ever sees them.
struct FlagText {
    std::string hidden = "1024,1024";
    std::string device = "auto";
    std::string devices;
    std::string trainingMode = "averaging";
    std::string bucketSize = "1M";
    std::string outerOptimizer = "none";
    std::string optimizer = "adam";
    std::string lrScaling = "none";
    std::string lrSchedule = "cosine";
    std::string workspaceMode = "enabled";
    std::string maxBytes;
    std::string maxPhysicalBytes;
    std::string format = "table";
    std::string planLatency;
    std::string planBandwidth;
    std::string planProbeLargest = "16M";
    std::string planAllreduce = "binomial";
};

po::options_description languageModelOptions(RunOptions& o) {
    po::options_description lm("Language models (--model gpt, --data text; docs/LANGUAGE-MODELS.md)");
    lm.add_options()
        ("layers", po::value(&o.layers)->default_value(o.layers), "gpt: transformer blocks")
        ("heads", po::value(&o.heads)->default_value(o.heads), "gpt: attention heads (--embed must be a multiple)")
        ("embed", po::value(&o.embed)->default_value(o.embed), "gpt: embedding width C")
        ("context", po::value(&o.context)->default_value(o.context), "gpt: tokens per sample (the attention's span)")
        ("tie-embeddings", po::bool_switch(&o.tieEmbeddings), "gpt: the LM head shares the token embedding's table (GPT-2's weight tying)")
        ("vocabulary", po::value(&o.vocabulary)->default_value(o.vocabulary), "bench and plan with --model gpt: the vocabulary of their random tokens")
        ("data-file", po::value(&o.dataFile), "--data text: the UTF-8 text file (e.g. data/shakespeare/plays.txt from scripts/setup.sh)")
        ("val-fraction", po::value(&o.valFraction)->default_value(o.valFraction), "--data text: the file's last fraction validates, in (0, 1)")
        ("tokenizer", po::value(&o.tokenizer)->default_value(o.tokenizer), "--data text: char (the file's characters) | byte (256 byte values)")
        ("max-iters", po::value(&o.maxIters)->default_value(o.maxIters, "2000"), "--data text: training iterations of each replica (instead of --epochs)")
        ("eval-interval", po::value(&o.evalInterval)->default_value(o.evalInterval, "250 or --max-iters"), "--data text: iterations between validations (divides --max-iters)")
        ("eval-iters", po::value(&o.evalIters)->default_value(o.evalIters), "--data text: validation batches (fixed windows spread over the validation text)")
        ("grad-clip", po::value(&o.gradientClip)->default_value(o.gradientClip), "clip the global gradient norm to this (0: off; shared gradients: the averaged gradient)")
        ("min-lr", po::value(&o.minLearningRate)->default_value(o.minLearningRate), "the cosine schedule decays to this rate (below --lr)")
        ("beta2", po::value(&o.beta2)->default_value(o.beta2), "adam/adamw: the second moment's decay, in [0, 1)");
    return lm;
}

po::options_description outputOptions(RunOptions& o) {
    po::options_description output("Output");
    output.add_options()
        ("metrics", po::value(&o.metricsPath), "write JSON Lines metrics to this file (every event and field: docs/METRICS.md)")
        ("report", po::value(&o.reportPath), "write a self-contained HTML report (charts of loss, accuracy, throughput, each worker's time, averaging, memory), rewritten at every epoch end")
        ("trace", po::value(&o.tracePath), "write a Chrome trace (chrome://tracing, Perfetto) of every worker's data waits, steps, averaging and evaluation")
        ("trace-steps", po::value(&o.traceSteps)->default_value(o.traceSteps), "steps per worker the trace keeps (later ones are counted, not kept)")
        ("quiet", po::bool_switch(&o.quiet), "print only errors")
        ("log-level", po::value(&o.logLevel)->default_value(o.logLevel), "error | warn | info | debug")
        ("config", po::value<std::string>(), "INI file of flag=value lines; the command line wins")
        ("help,h", "show this help");
    return output;
}

po::options_description trainOptions(RunOptions& o, FlagText& t) {
    po::options_description model("Model");
    model.add_options()
        ("model", po::value(&o.model)->default_value(o.model), "architecture: mlp | lenet (conv 5x5x20, pool 2, conv 5x5x50, pool 2, dense 500, dense 10) | gpt (a GPT-2-style transformer: --layers, --heads, --embed, --context)")
        ("hidden", po::value(&t.hidden)->default_value(t.hidden), "MLP hidden layer sizes, comma separated")
        ("dropout", po::value(&o.dropout)->default_value(o.dropout, "0.2, lenet 0"), "dropout rate after each hidden dense layer (lenet: after dense 500), in [0, 1)")
        ("activation", po::value(&o.activation)->default_value(o.activation), "hidden activation: relu | tanh | sigmoid")
        ("model-file", po::value(&o.modelFile), "JSON model description instead of --model/--hidden/--dropout/--activation: "
                                                "{\"layers\": [{\"type\": \"conv2d\", \"filters\": 20, \"kernel\": 5, \"activation\": \"relu\"}, "
                                                "{\"type\": \"maxpool2d\", \"size\": 2}, {\"type\": \"flatten\"}, "
                                                "{\"type\": \"dense\", \"units\": \"classes\"}]}; types conv2d (filters, kernel, "
                                                "stride 1, padding 0, activation identity), maxpool2d | avgpool2d (size, stride = size), "
                                                "batchnorm (momentum 0.1, epsilon 1e-5), flatten, dense (units or \"classes\", "
                                                "activation identity), dropout (rate), activation (function); see "
                                                "examples/models/ and docs/MODEL-FILES.md");
    po::options_description data("Data");
    data.add_options()
        ("data", po::value(&o.data)->default_value(o.data), "data set: fashion-mnist | mnist | cifar10 | csv (DIR/train.csv, DIR/test.csv) | synthetic | text (--data-file)")
        ("data-dir", po::value(&o.dataDir), "directory of the data set's files [fashion-mnist: /usr/share/datasets/fashion-mnist]");
    po::options_description device("Device");
    device.add_options()
        ("device", po::value(&t.device)->default_value(t.device), "backend: auto (GPU if present, else CPU) | cpu | cuda")
        ("devices", po::value(&t.devices), "CUDA devices to use, e.g. 0,1 [all visible]")
        ("threads-per-worker", po::value(&o.threadsPerWorker)->default_value(o.threadsPerWorker), "CPU BLAS/OpenMP threads per worker (0: cores / workers)")
        ("cuda-graphs", po::value(&o.cudaGraphs)->default_value(o.cudaGraphs), "on a GPU, capture the training step once as a CUDA graph and replay it (true|false; false for debugging)")
        ("tf32", po::bool_switch(&o.tf32), "on a GPU, let fp32 GEMMs and convolutions use TF32 tensor cores (faster, ~1e-3 relative error)");
    po::options_description parallel("Parallel training");
    parallel.add_options()
        ("workers", po::value(&o.workers)->default_value(o.workers), "training threads in this process, round-robin over devices (0: one per GPU, or 1 on the CPU)")
        ("averaging-frequency", po::value(&o.averagingFrequency)->default_value(o.averagingFrequency), "average the replicas every K iterations of each worker (>= 1)")
        ("average-updaters", po::value(&o.averageUpdaters)->default_value(o.averageUpdaters), "also average optimizer state (true|false)")
        ("training-mode", po::value(&t.trainingMode)->default_value(t.trainingMode), "averaging | shared-gradients (gradient allreduce every step)")
        ("overlap-gradients", po::value(&o.overlapGradients)->default_value(o.overlapGradients), "shared gradients, CPU workers: average the gradients in buckets while the backward pass goes on (true|false; false averages the same buckets after it, bitwise the same result)")
        ("bucket-size", po::value(&t.bucketSize)->default_value(t.bucketSize), "shared gradients: gradients are averaged in buckets of whole layers, from the last layer, each at least this size (e.g. 256K, 4M); every rank must use the same")
        ("outer-optimizer", po::value(&t.outerOptimizer)->default_value(t.outerOptimizer), "at each averaging point, step from the last point's parameters along the replicas' mean change (DiLoCo): none (take the mean) | sgd | nesterov")
        ("outer-lr", po::value(&o.outerLearningRate)->default_value(o.outerLearningRate), "outer learning rate (> 0; sgd with 1 is plain averaging)")
        ("outer-momentum", po::value(&o.outerMomentum)->default_value(o.outerMomentum), "outer Nesterov momentum, in [0, 1)")
        ("prefetch-buffer", po::value(&o.prefetchBuffer)->default_value(o.prefetchBuffer), "batches each worker's loader prepares ahead (0: load synchronously)")
        ("report-score-after-averaging", po::value(&o.reportScoreAfterAveraging)->default_value(o.reportScoreAfterAveraging), "log the replicas' mean loss at each averaging point (true|false)")
        ("mpi-timeout", po::value(&o.mpiTimeout)->default_value(o.mpiTimeout), "under mpirun: seconds a rank waits for the others before declaring one lost and ending the job");
    po::options_description training("Training");
    training.add_options()
        ("epochs", po::value(&o.epochs)->default_value(o.epochs), "passes over the training set (>= 1)")
        ("batch-size", po::value(&o.batchSize)->default_value(o.batchSize, "128, lenet 64"), "samples per step (>= 1)")
        ("optimizer", po::value(&t.optimizer)->default_value(t.optimizer), "sgd | nesterov | adam | adamw (adam whose --weight-decay applies to weight matrices only)")
        ("lr", po::value<double>(), "learning rate (> 0) [adam 0.001, sgd/nesterov 0.05]")
        ("lr-scaling", po::value(&t.lrScaling)->default_value(t.lrScaling), "multiply --lr by a function of the job's replicas R (mpirun processes x workers): none | linear (R) | sqrt (sqrt R) | auto (what measured best for the optimizer: linear for sgd and adam, sqrt for nesterov); use with a warm-up (--warmup-epochs 1)")
        ("momentum", po::value(&o.momentum)->default_value(o.momentum), "Nesterov momentum, in [0, 1)")
        ("weight-decay", po::value(&o.weightDecay)->default_value(o.weightDecay), "L2 for sgd/nesterov, decoupled (AdamW) for adam; >= 0")
        ("lr-schedule", po::value(&t.lrSchedule)->default_value(t.lrSchedule), "constant | cosine (decay to 0 over the run)")
        ("warmup-steps", po::value(&o.warmupSteps)->default_value(o.warmupSteps), "linear learning-rate warm-up steps")
        ("warmup-epochs", po::value(&o.warmupEpochs)->default_value(o.warmupEpochs), "linear learning-rate warm-up over this many epochs (fractions allowed; the steps follow from the job's replicas), instead of --warmup-steps")
        ("seed", po::value(&o.seed)->default_value(o.seed), "seed for initialisation, shuffling and dropout");
    po::options_description memory("Memory");
    memory.add_options()
        ("workspace-mode", po::value(&t.workspaceMode)->default_value(t.workspaceMode), "enabled | none (plain allocations, for debugging)")
        ("maxbytes", po::value(&t.maxBytes), "budget for tensor data per location, e.g. 512M, 8G [unlimited]")
        ("maxphysicalbytes", po::value(&t.maxPhysicalBytes), "budget for the whole process's resident memory [unlimited]")
        ("scope-checks", po::bool_switch(&o.scopeChecks), "check every op for leaked/outdated workspace pointers");
    po::options_description checkpoints("Checkpoints");
    checkpoints.add_options()
        ("checkpoint-dir", po::value(&o.checkpointDir), "write checkpoints into this directory: at every epoch end, every --checkpoint-every iterations, and when stopped by SIGINT/SIGTERM")
        ("checkpoint-every", po::value(&o.checkpointEvery)->default_value(o.checkpointEvery), "iterations between checkpoints, taken at the next averaging point (0: epoch ends only)")
        ("keep-checkpoints", po::value(&o.keepCheckpoints)->default_value(o.keepCheckpoints), "newest checkpoints kept in --checkpoint-dir (>= 1)")
        ("save", po::value(&o.savePath), "write the trained model (a checkpoint of the run's end) to this file, for 'cohort evaluate --load'")
        ("resume", po::value(&o.resumePath), "continue the run of this checkpoint file, or of the newest valid one in this directory; the result is bitwise the uninterrupted run's");
    po::options_description all;
    all.add(model).add(data).add(languageModelOptions(o)).add(device).add(parallel).add(training).add(memory);
    all.add(checkpoints).add(outputOptions(o));
    return all;
}

po::options_description evaluateOptions(RunOptions& o, FlagText& t) {
    po::options_description all("Evaluate");
    all.add_options()
        ("load", po::value(&o.loadPath), "checkpoint to evaluate (from --save or --checkpoint-dir); required")
        ("data", po::value(&o.data)->default_value(o.data), "data set: fashion-mnist | mnist | cifar10 | csv (DIR/train.csv, DIR/test.csv) | synthetic (a language model's checkpoint: its text, --data-file)")
        ("data-dir", po::value(&o.dataDir), "directory of the data set's files [fashion-mnist: /usr/share/datasets/fashion-mnist]")
        ("data-file", po::value(&o.dataFile), "a language model's checkpoint: the text file (split as the training run split it; its validation windows are evaluated)")
        ("seed", po::value(&o.seed)->default_value(o.seed), "seed of --data synthetic")
        ("device", po::value(&t.device)->default_value(t.device), "backend: auto (GPU if present, else CPU) | cpu | cuda")
        ("threads-per-worker", po::value(&o.threadsPerWorker)->default_value(o.threadsPerWorker), "CPU BLAS/OpenMP threads (0: all cores)")
        ("batch-size", po::value(&o.evaluationBatch)->default_value(o.evaluationBatch), "samples per evaluation batch (0: the training run's, so its numbers are reproduced exactly)")
        ("format", po::value(&t.format)->default_value(t.format), "stdout: table | json")
        ("metrics", po::value(&o.metricsPath), "also write the result as a JSON Lines 'evaluation' event to this file")
        ("quiet", po::bool_switch(&o.quiet), "print only errors")
        ("config", po::value<std::string>(), "INI file of flag=value lines; the command line wins")
        ("help,h", "show this help");
    return all;
}

// `cohort plan`: its own flags, the step's timing (as bench), then train's flags (the model, batch,
// optimizer, workers and averaging the plan is for).
po::options_description planOptions(RunOptions& o, FlagText& t) {
    po::options_description plan("Plan");
    plan.add_options()
        ("hosts", po::value(&o.planHosts)->default_value(o.planHosts), "processes of the planned job, one per host in the usual layout (0: the mpirun size, else 1)")
        ("ranks-per-host", po::value(&o.planRanksPerHost)->default_value(o.planRanksPerHost), "of those processes, how many share one machine's cores (0: under mpirun, this job's ranks on this host; else 1); "
                                                                                              "without mpirun, the step is measured with this many groups of --workers at once")
        ("latency", po::value(&t.planLatency), "link latency alpha of one message, with its unit: 50us, 0.2ms (with --bandwidth, instead of --probe)")
        ("bandwidth", po::value(&t.planBandwidth), "link bandwidth beta, with its unit: 1gbit, 10gbit (bits/s) or 125MB, 1GiB (bytes/s)")
        ("probe", po::bool_switch(&o.planProbe), "under mpirun: time the allreduce averaging uses between this job's ranks (8 B to --probe-largest) and fit alpha and beta to it")
        ("probe-largest", po::value(&t.planProbeLargest)->default_value(t.planProbeLargest), "the largest allreduce --probe times (e.g. 4MiB, 64MiB)")
        ("allreduce", po::value(&t.planAllreduce)->default_value(t.planAllreduce), "the allreduce algorithm the link model counts: binomial (Open MPI's nonblocking in-place allreduce, what cohort's processes get) | ring")
        ("step-ms", po::value(&o.planStepMilliseconds)->default_value(o.planStepMilliseconds), "milliseconds of one training step of one worker (0: measured, the --workers running at once)")
        ("local-averaging-ms", po::value<double>(), "milliseconds of an averaging point's in-process part (the replicas averaged in memory); measured unless given")
        ("target-fraction", po::value(&o.planTargetFraction)->default_value(o.planTargetFraction), "recommend the smallest --averaging-frequency whose averaging takes at most this fraction of the time, in (0, 1)")
        ("train-samples", po::value(&o.planTrainSamples)->default_value(o.planTrainSamples), "training samples per epoch, for the averaging at each epoch's end (-1: counted from --data; 0: leave epoch ends out)")
        ("json", po::bool_switch(&o.planJson), "print the plan as one JSON object instead of a table")
        ("steps", po::value(&o.benchSteps)->default_value(o.benchSteps), "timed training steps per repeat (>= 1)")
        ("warmup", po::value(&o.benchWarmup)->default_value(o.benchWarmup), "untimed steps first (workspaces learn, caches warm)")
        ("repeats", po::value(&o.benchRepeats)->default_value(o.benchRepeats), "repeats; the median is used (>= 1)");
    po::options_description all;
    all.add(plan).add(trainOptions(o, t));
    return all;
}

po::options_description infoOptions(RunOptions& o) {
    po::options_description all("Info");
    all.add_options()("help,h", "show this help")
        ("load-cuda", po::bool_switch(&o.infoLoadCuda),
         "load the CUDA module even without an NVIDIA driver, and list the CUDA libraries it resolved "
         "(checks that they are found; without this, info loads CUDA only when a driver is present)");
    return all;
}

po::options_description generateOptions(RunOptions& o, FlagText& t) {
    po::options_description all("Generate");
    all.add_options()
        ("load", po::value(&o.loadPath), "a language model's checkpoint (cohort train --model gpt --data text --save); required")
        ("prompt", po::value(&o.prompt), "the text to continue (every character must be in the model's vocabulary) [a line break]")
        ("tokens", po::value(&o.generateTokens)->default_value(o.generateTokens), "tokens to sample (1..1000000)")
        ("temperature", po::value(&o.temperature)->default_value(o.temperature), "divides the logits before the softmax (> 0; lower is more conservative)")
        ("top-k", po::value(&o.topK)->default_value(o.topK), "sample among the k likeliest tokens only (0: all)")
        ("seed", po::value(&o.seed)->default_value(o.seed), "the sampling seed: the same seed gives the same text")
        ("device", po::value(&t.device)->default_value("cpu"), "backend: auto | cpu | cuda")
        ("threads-per-worker", po::value(&o.threadsPerWorker)->default_value(o.threadsPerWorker), "CPU BLAS/OpenMP threads (0: all cores)")
        ("config", po::value<std::string>(), "INI file of flag=value lines; the command line wins")
        ("help,h", "show this help");
    return all;
}

po::options_description optionsFor(const std::string& subcommand, RunOptions& o, FlagText& t) {
    if (subcommand == "train") return trainOptions(o, t);
    if (subcommand == "bench") {
        po::options_description all("Bench");
        all.add_options()
            ("steps", po::value(&o.benchSteps)->default_value(o.benchSteps), "timed training steps per repeat (>= 1)")
            ("warmup", po::value(&o.benchWarmup)->default_value(o.benchWarmup), "untimed steps first (workspaces learn, caches warm)")
            ("repeats", po::value(&o.benchRepeats)->default_value(o.benchRepeats), "repeats; the median is reported (>= 1)");
        all.add(trainOptions(o, t));
        return all;
    }
    if (subcommand == "plan") return planOptions(o, t);
    if (subcommand == "evaluate") return evaluateOptions(o, t);
    if (subcommand == "generate") return generateOptions(o, t);
    if (subcommand == "report") {
        po::options_description all("Report");
        all.add_options()
            ("metrics-file", po::value(&o.reportInput), "the --metrics file of a run (finished, stopped, failed or still running)")
            ("output,o", po::value(&o.outputPath)->default_value("report.html"), "the HTML file to write")
            ("help,h", "show this help");
        return all;
    }
    if (subcommand == "info") return infoOptions(o);
    throw InputError("unknown subcommand '" + subcommand + "'; run 'cohort --help'");
}

DeviceChoice parseDevice(const std::string& text) {
    if (text == "auto") return DeviceChoice::Auto;
    if (text == "cpu") return DeviceChoice::Cpu;
    if (text == "cuda") return DeviceChoice::Cuda;
    throw InputError("unknown --device '" + text + "'; choose auto, cpu or cuda");
}

std::vector<int> parseDeviceList(const std::string& text) {
    std::vector<int> devices;
    if (text.empty()) return devices;
    const auto ordinals = parseIntegerList(text);
    const bool valid = ordinals && std::all_of(ordinals->begin(), ordinals->end(), [](std::int64_t value) { return value < (1 << 20); });
    if (!valid) throw InputError("bad --devices '" + text + "': expected device ordinals like 0,1");
    for (const std::int64_t value : *ordinals) devices.push_back(int(value));
    return devices;
}

parallel::AllreduceAlgorithm parseAllreduce(const std::string& text) {
    if (text == "binomial") return parallel::AllreduceAlgorithm::Binomial;
    if (text == "ring") return parallel::AllreduceAlgorithm::Ring;
    throw InputError("unknown --allreduce '" + text + "'; choose binomial or ring");
}

void checkChoices(const RunOptions& options, const FlagText& text) {
    if (options.logLevel != "error" && options.logLevel != "warn" && options.logLevel != "info" && options.logLevel != "debug") {
        throw InputError("unknown --log-level '" + options.logLevel + "'; choose error, warn, info or debug");
    }
    if (options.data != "fashion-mnist" && options.data != "mnist" && options.data != "cifar10" && options.data != "csv" &&
        options.data != "synthetic" && options.data != "text") {
        throw InputError("unknown --data '" + options.data + "'; choose fashion-mnist, mnist, cifar10, csv, synthetic or text");
    }
    if (options.tokenizer != "char" && options.tokenizer != "byte") {
        throw InputError("unknown --tokenizer '" + options.tokenizer + "'; choose char or byte");
    }
    if (text.format != "table" && text.format != "json") {
        throw InputError("unknown --format '" + text.format + "'; choose table or json");
    }
}

// Every flag's text as the typed value the rest of cohort takes, in the order the flags are
// documented; each parser throws InputError naming its flag.
void typedFlags(const FlagText& text, RunOptions& options) {
    checkChoices(options, text);
    options.hidden = parseHiddenSizes(text.hidden);
    options.device = parseDevice(text.device);
    options.devices = parseDeviceList(text.devices);
    options.trainingMode = parseTrainingMode(text.trainingMode);
    options.bucketBytes = byteSizeFlag(text.bucketSize, "--bucket-size", "256K or 4M");
    options.outerOptimizer = parseOuterOptimizerKind(text.outerOptimizer);
    options.decayMatricesOnly = text.optimizer == "adamw";
    options.optimizer = parseOptimizerKind(options.decayMatricesOnly ? "adam" : text.optimizer);
    options.lrScaling = parseLearningRateScaling(text.lrScaling);
    options.lrSchedule = parseScheduleKind(text.lrSchedule);
    options.workspaceMode = parseWorkspaceMode(text.workspaceMode);
    options.maxBytes = text.maxBytes.empty() ? 0 : byteSizeFlag(text.maxBytes, "--maxbytes", "512M or 8G");
    options.maxPhysicalBytes = text.maxPhysicalBytes.empty() ? 0 : byteSizeFlag(text.maxPhysicalBytes, "--maxphysicalbytes", "512M or 8G");
    options.jsonFormat = text.format == "json";
    if (!text.planLatency.empty()) options.planLatencySeconds = parseDurationSeconds(text.planLatency, "--latency");
    if (!text.planBandwidth.empty()) {
        options.planBandwidthBytesPerSecond = parseBandwidthBytesPerSecond(text.planBandwidth, "--bandwidth");
    }
    options.planProbeLargest = byteSizeFlag(text.planProbeLargest, "--probe-largest", "4M or 64M");
    if (options.planProbeLargest < 1024 || options.planProbeLargest > (std::int64_t(1) << 30)) {
        throw InputError("--probe-largest must be between 1K and 1G, got " + text.planProbeLargest);
    }
    options.planAllreduce = parseAllreduce(text.planAllreduce);
}

}  // namespace

std::string usageText() {
    return "usage: cohort <subcommand> [flags]\n"
           "  train     train a model (default: MLP on Fashion-MNIST)\n"
           "  evaluate  accuracy, loss and confusion matrix of a saved model (a language model: loss and bits per token)\n"
           "  generate  text sampled from a saved language model: cohort generate --load gpt.ckpt --prompt 'ROMEO:'\n"
           "  info      version, backends, devices and memory limits\n"
           "  bench     timed training steps on random data (no data loading)\n"
           "  plan      predicted samples/s and averaging cost for hosts x workers x K, and the K to use\n"
           "  launch    a train job under mpirun, restarted from its newest checkpoint when a host is lost\n"
           "  report    an HTML report of a run from its --metrics file: cohort report run.jsonl -o run.html\n"
           "run 'cohort <subcommand> --help' for its flags\n";
}

std::string helpText(const std::string& subcommand) {
    RunOptions ignored;
    FlagText ignoredText;
    std::ostringstream text;
    text << "usage: cohort " << subcommand << " [flags]\n" << optionsFor(subcommand, ignored, ignoredText);
    return text.str();
}

std::optional<RunOptions> parseOptions(const std::string& subcommand, const std::vector<std::string>& arguments) {
    RunOptions options;
    FlagText text;
    const po::options_description description = optionsFor(subcommand, options, text);
    po::variables_map values;
    try {
        // No positional arguments (a stray word such as "--tf32 yes" or "--epochs 2 3" is an error,
        // not ignored), except report's metrics file.
        po::positional_options_description positionals;
        if (subcommand == "report") positionals.add("metrics-file", 1);
        po::store(po::command_line_parser(arguments).options(description).positional(positionals).run(), values);
        if (values.count("help")) {
            std::cout << helpText(subcommand);
            return std::nullopt;
        }
        if (values.count("config")) {
            const std::string path = values["config"].as<std::string>();
            options.configPath = path;
            if (const std::string why = whyNotRegularFile(path); !why.empty()) {
                throw InputError("cannot read --config file " + path + ": it " + why);
            }
            std::ifstream file(path);
            if (!file) throw InputError("cannot read --config file " + path);
            po::store(po::parse_config_file(file, description, false), values);
        }
        po::notify(values);
        if (!options.modelFile.empty()) {
            for (const char* replaced : {"model", "hidden", "dropout", "activation"}) {
                if (values.count(replaced) && !values[replaced].defaulted()) {
                    throw InputError(std::string("--model-file replaces --model, --hidden, --dropout and --activation; "
                                                 "remove --") + replaced + " (from the command line or the --config file)");
                }
            }
        }
        // `train` and `bench` flags the user left at their defaults take the architecture's
        // recommendation, so bench times the configuration train would run.
        if ((subcommand == "train" || subcommand == "bench" || subcommand == "plan") && options.modelFile.empty()) {
            const nn::RecommendedSettings recommended = nn::recommendedSettings(options.model);
            if (values["dropout"].defaulted()) options.dropout = recommended.dropout;
            if (values["batch-size"].defaulted()) options.batchSize = recommended.batchSize;
        }
        if (subcommand == "plan") options.averagingFrequencyGiven = !values["averaging-frequency"].defaulted();
    } catch (po::invalid_option_value& error) {
        defusePlaceholders(error);
        throw InputError(explainInvalidValue(error) + "; run 'cohort " + subcommand + " --help'");
    } catch (po::error_with_option_name& error) {
        defusePlaceholders(error);
        throw InputError(std::string(error.what()) + "; run 'cohort " + subcommand + " --help'");
    } catch (const po::error& error) {
        throw InputError(std::string(error.what()) + "; run 'cohort " + subcommand + " --help'");
    }
    if (values.count("lr")) options.learningRate = values["lr"].as<double>();
    if (values.count("local-averaging-ms")) options.planLocalAveragingMilliseconds = values["local-averaging-ms"].as<double>();
    // Every flag value is checked whether or not this run uses it.
    typedFlags(text, options);
    return options;
}

}  // namespace cohort::launch
