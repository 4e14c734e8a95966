// `cohort train` as a user runs it: bad input gives one line on stderr and exit code 2;
// training on a small generated data set is reproducible from the seed.
#include <gtest/gtest.h>

#include "data/DataTestSupport.h"
#include "launch/CohortProcess.h"
#include "launch/MnistFixture.h"

namespace cohort {
namespace {

using data::testing_support::makeIdx;
using data::testing_support::ScratchDirectory;
using data::testing_support::writeBytes;
using data::testing_support::writeGzip;
using testing_support::lineCount;
using testing_support::runCohort;
using testing_support::writeFixture;

const std::string kSmallMlp = " --device cpu --threads-per-worker 1 --hidden 32 --batch-size 32 ";

using testing_support::expectInputError;

TEST(CommandLine, RejectsBadFlagsWithOneLineAndExitCode2) {
    expectInputError("train --epochs 0", "--epochs");
    expectInputError("train --batch-size 0", "--batch-size");
    expectInputError("train --lr -0.1", "--lr");
    expectInputError("train --model transformer", "--model");
    expectInputError("train --optimizer rmsprop", "--optimizer");
    expectInputError("train --no-such-flag 3", "no-such-flag");
    expectInputError("train --epochs many", "epochs");
    expectInputError("train --hidden 10,,20", "--hidden");
    expectInputError("train --device tpu", "--device");
    expectInputError("train --workspace-mode sometimes", "--workspace-mode");
    expectInputError("frobnicate", "frobnicate");
}

TEST(CommandLine, RejectsBadDataWithOneLineNamingTheFile) {
    ScratchDirectory scratch;
    expectInputError("train --data-dir " + scratch.str() + "/absent" + kSmallMlp, "absent");

    writeFixture(scratch.str(), 64, 16, false);
    // Wrong magic in the training images.
    auto images = data::testing_support::readBytes(scratch.file("train-images-idx3-ubyte"));
    auto broken = images;
    broken[2] = 0x0B;
    broken[3] = 0x07;
    writeBytes(scratch.file("train-images-idx3-ubyte"), broken);
    expectInputError("train --data-dir " + scratch.str() + kSmallMlp, "train-images-idx3-ubyte");
    // Truncated file.
    broken = images;
    broken.resize(broken.size() - 100);
    writeBytes(scratch.file("train-images-idx3-ubyte"), broken);
    expectInputError("train --data-dir " + scratch.str() + kSmallMlp, "truncated");
    // Image/label count mismatch.
    writeBytes(scratch.file("train-images-idx3-ubyte"), images);
    writeBytes(scratch.file("train-labels-idx1-ubyte"), makeIdx({63}, std::vector<std::uint8_t>(63, 1)));
    expectInputError("train --data-dir " + scratch.str() + kSmallMlp, "64");
}

TEST(CommandLine, RejectsCorruptGzip) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, true);
    auto bytes = data::testing_support::readBytes(scratch.file("t10k-images-idx3-ubyte.gz"));
    for (std::size_t i = 20; i < bytes.size() && i < 200; ++i) bytes[i] ^= 0x5A;
    writeBytes(scratch.file("t10k-images-idx3-ubyte.gz"), bytes);
    expectInputError("train --data-dir " + scratch.str() + kSmallMlp, "t10k-images-idx3-ubyte.gz");
}

TEST(CommandLine, CsvCifarAndSyntheticDataSetsTrainOrFailWithOneLine) {
    ScratchDirectory scratch;
    // A learnable CSV: label, then 4 features where feature `label` is large.
    std::string train, test;
    for (int i = 0; i < 200; ++i) {
        const int label = i % 4;
        std::string row = std::to_string(label);
        for (int f = 0; f < 4; ++f) row += f == label ? ",3.5" : ",0." + std::to_string(i % 7);
        (i < 160 ? train : test) += row + "\n";
    }
    data::testing_support::writeText(scratch.file("train.csv"), "label,a,b,c,d\n" + train);
    data::testing_support::writeText(scratch.file("test.csv"), test);
    const auto csv = runCohort("train --data csv --data-dir " + scratch.str() + kSmallMlp + " --epochs 3 --lr 0.01 --metrics " +
                               scratch.file("csv.jsonl"));
    ASSERT_EQ(csv.exitCode, 0) << csv.err;
    EXPECT_NE(testing_support::slurp(scratch.file("csv.jsonl")).find("\"event\":\"done\""), std::string::npos);
    data::testing_support::writeText(scratch.file("train.csv"), "1,2,3\n0,1\n");
    expectInputError("train --data csv --data-dir " + scratch.str() + kSmallMlp, "train.csv");  // ragged row
    data::testing_support::writeText(scratch.file("train.csv"), "1,2,x\n");
    expectInputError("train --data csv --data-dir " + scratch.str() + kSmallMlp, "train.csv");  // non-numeric cell
    data::testing_support::writeText(scratch.file("train.csv"), "");
    expectInputError("train --data csv --data-dir " + scratch.str() + kSmallMlp, "train.csv");  // empty file
    data::testing_support::writeText(scratch.file("train.csv"), "0,1,2\n1,2,3\n");
    data::testing_support::writeText(scratch.file("test.csv"), "7,1,2\n");
    expectInputError("train --data csv --data-dir " + scratch.str() + kSmallMlp, "test.csv");  // label out of range
    expectInputError("train --data csv" + kSmallMlp, "--data-dir");
    // CIFAR-10 binary: a file whose size is not a multiple of 3073 bytes.
    for (int b = 1; b <= 5; ++b) writeBytes(scratch.file("data_batch_" + std::to_string(b) + ".bin"), std::vector<std::uint8_t>(3073 * 2, 1));
    writeBytes(scratch.file("test_batch.bin"), std::vector<std::uint8_t>(3073 + 5, 1));
    expectInputError("train --data cifar10 --data-dir " + scratch.str() + kSmallMlp, "test_batch.bin");
    const auto synthetic = runCohort("train --data synthetic" + kSmallMlp + " --epochs 1 --quiet");
    EXPECT_EQ(synthetic.exitCode, 0) << synthetic.err;
    expectInputError("train --data imagenet", "--data");
}

TEST(CommandLine, MemoryLimitTooSmallFailsAtOnceNamingTheFlag) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    expectInputError("train --data-dir " + scratch.str() + " --device cpu --maxbytes 1M", "--maxbytes");
    expectInputError("train --maxbytes lots", "--maxbytes");
    // The parameters fit, the predicted activations of a large batch do not: still exit 2 before
    // training, with the prediction named.
    const auto predicted = runCohort("train --data-dir " + scratch.str() +
                                     " --device cpu --hidden 32 --batch-size 4096 --maxbytes 2M");
    EXPECT_EQ(predicted.exitCode, 2) << predicted.err;
    EXPECT_NE(predicted.err.find("--maxbytes"), std::string::npos) << predicted.err;
    EXPECT_NE(predicted.err.find("predicted"), std::string::npos) << predicted.err;
    EXPECT_EQ(predicted.out.find("epoch 1"), std::string::npos) << predicted.out;
    const auto fits = runCohort("train --data-dir " + scratch.str() + kSmallMlp + " --maxbytes 256M --quiet");
    EXPECT_EQ(fits.exitCode, 0) << fits.err;
}

TEST(CommandLine, PhysicalMemoryLimitBelowTheProcessFailsNamingTheFlag) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    expectInputError("train --data-dir " + scratch.str() + kSmallMlp + " --maxphysicalbytes 4M", "--maxphysicalbytes");
}

TEST(CommandLine, DivergenceToNaNIsAFailureWithOneLineAndExitCode1) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 256, 16, false);
    const auto result = runCohort("train --data-dir " + scratch.str() + kSmallMlp +
                                  " --epochs 1 --optimizer sgd --lr 1e30 --lr-schedule constant --workers 2");
    EXPECT_EQ(result.exitCode, 1) << result.err;
    EXPECT_EQ(lineCount(result.err), 1) << result.err;
    EXPECT_NE(result.err.find("diverged"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("worker"), std::string::npos) << result.err;
}

TEST(CommandLine, SettingsTheLibraryNamesAreSpelledAsTheFlagsTyped) {
    // The layers below launch/ name fields ("learningRate"); the CLI says the flag.
    expectInputError("train --lr 0", "--lr must be a positive finite number, got 0");
    expectInputError("train --momentum 1.5", "--momentum must be in [0, 1)");
    expectInputError("train --weight-decay -1", "--weight-decay must be >= 0");
    expectInputError("train --warmup-steps -3", "--warmup-steps must be >= 0, got -3");
    expectInputError("train --epochs 0", "--epochs must be at least 1, got 0");
    expectInputError("train --averaging-frequency 0", "--averaging-frequency must be at least 1");
    expectInputError("train --activation swish", "unknown --activation 'swish'; choose relu, tanh or sigmoid");
    expectInputError("train --lr-schedule linear", "unknown --lr-schedule 'linear'; choose constant or cosine");
    expectInputError("train --model transformer", "unknown --model 'transformer'; choose mlp, lenet or gpt");
    expectInputError("train --data-dir /nonexistent/cohort", "--data-dir /nonexistent/cohort does not exist");
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    expectInputError("train --data-dir " + scratch.str() + " --device cpu --maxbytes 1M",
                     "raise --maxbytes or reduce --batch-size/--hidden");
    const auto diverged = runCohort("train --data-dir " + scratch.str() + kSmallMlp +
                                    " --epochs 1 --optimizer sgd --lr 1e30 --lr-schedule constant");
    EXPECT_EQ(diverged.exitCode, 1) << diverged.err;
    EXPECT_NE(diverged.err.find("lower --lr or check the data"), std::string::npos) << diverged.err;
    EXPECT_EQ(diverged.err.find("learningRate"), std::string::npos) << diverged.err;
}

TEST(CommandLine, WorkersAndParallelFlagsAreValidated) {
    expectInputError("train --workers -1", "--workers");
    expectInputError("train --averaging-frequency 0", "--averaging-frequency");
    expectInputError("train --training-mode async", "--training-mode");
    expectInputError("train --prefetch-buffer -2", "--prefetch-buffer");
    expectInputError("train --average-updaters maybe", "average-updaters");
}

TEST(CommandLine, GpuFlagsAreValidatedWithoutAGpu) {
    expectInputError("train --cuda-graphs maybe", "cuda-graphs");
    expectInputError("bench --cuda-graphs sometimes", "cuda-graphs");
    expectInputError("train --tf32 yes", "positional");  // a switch takes no value: "yes" is a stray word
    expectInputError("train --epochs 2 3", "positional");
}

TEST(CommandLine, SameSeedSameLossesOtherSeedOtherLosses) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 600, 100, true);
    const std::string arguments = "train --data-dir " + scratch.str() + kSmallMlp + " --epochs 2 --metrics ";
    const auto first = runCohort(arguments + scratch.file("a.jsonl") + " --seed 3");
    const auto second = runCohort(arguments + scratch.file("b.jsonl") + " --seed 3");
    const auto other = runCohort(arguments + scratch.file("c.jsonl") + " --seed 4");
    ASSERT_EQ(first.exitCode, 0) << first.err;
    ASSERT_EQ(second.exitCode, 0) << second.err;
    ASSERT_EQ(other.exitCode, 0) << other.err;
    auto losses = [](const std::string& out) {
        std::string lines;
        std::istringstream stream(out);
        for (std::string line; std::getline(stream, line);) {
            if (line.rfind("epoch ", 0) == 0) lines += line.substr(0, line.find('%', line.find("test loss")) + 1) + "\n";
        }
        return lines;
    };
    EXPECT_FALSE(losses(first.out).empty()) << first.out;
    EXPECT_EQ(losses(first.out), losses(second.out));
    EXPECT_NE(losses(first.out), losses(other.out));
    // The metrics file has two epoch lines and a done line, and the model learned the bands.
    const std::string metrics = testing_support::slurp(scratch.file("a.jsonl"));
    EXPECT_NE(metrics.find("\"event\":\"epoch\",\"epoch\":2"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("\"event\":\"done\""), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("\"event\":\"memory\""), std::string::npos) << metrics;
    const std::string key = "\"event\":\"done\",\"test_accuracy\":";
    const auto done = metrics.find(key);
    ASSERT_NE(done, std::string::npos);
    EXPECT_GT(std::stod(metrics.substr(done + key.size(), 8)), 0.9) << metrics;
}

// The value of `key` (a number) in the last epoch event of a --metrics file.
double lastEpochValue(const std::string& metricsPath, const std::string& key) {
    const std::string metrics = testing_support::slurp(metricsPath);
    const auto epoch = metrics.rfind("\"event\":\"epoch\"");
    const auto at = metrics.find("\"" + key + "\":", epoch);
    if (epoch == std::string::npos || at == std::string::npos) return -1.0;
    return std::stod(metrics.substr(at + key.size() + 3));
}

TEST(CommandLine, LearningRateScalingMultipliesTheRateByTheJobsReplicas) {
    expectInputError("train --lr-scaling cubic", "unknown --lr-scaling 'cubic'; choose none, linear, sqrt or auto");
    expectInputError("train --lr-scaling", "lr-scaling");
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 600, 100, true);
    const std::string common = "train --data-dir " + scratch.str() + kSmallMlp + " --epochs 1 --lr-schedule constant ";
    // The rate the workers' optimizers were given: the schedule's value, in each epoch event.
    auto usedRate = [&](const std::string& flags, const std::string& expectedLine) {
        const std::string path = scratch.file("run" + std::to_string(std::hash<std::string>{}(flags)) + ".jsonl");
        const auto result = runCohort(common + flags + " --metrics " + path);
        EXPECT_EQ(result.exitCode, 0) << flags << "\n" << result.err;
        EXPECT_NE(result.out.find(expectedLine), std::string::npos) << flags << "\n" << result.out;
        return lastEpochValue(path, "learning_rate");
    };
    EXPECT_DOUBLE_EQ(usedRate("--optimizer sgd --lr 0.05 --workers 1 --lr-scaling linear",
                              "lr 0.05 x 1 (linear scaling, 1 replica(s))"), 0.05);
    EXPECT_DOUBLE_EQ(usedRate("--optimizer sgd --lr 0.05 --workers 2 --lr-scaling linear",
                              "lr 0.05 x 2 (linear scaling, 2 replica(s))"), 0.1);
    EXPECT_DOUBLE_EQ(usedRate("--optimizer sgd --lr 0.05 --workers 2", "sgd(lr=0.05,"), 0.05);
    EXPECT_DOUBLE_EQ(usedRate("--lr 0.001 --workers 4 --lr-scaling sqrt",
                              "lr 0.001 x 2 (sqrt scaling, 4 replica(s))"), 0.002);
    EXPECT_DOUBLE_EQ(usedRate("--lr 0.001 --workers 4 --lr-scaling auto",
                              "lr 0.001 x 4 (linear scaling, 4 replica(s))"), 0.004);
    EXPECT_DOUBLE_EQ(usedRate("--optimizer nesterov --lr 0.01 --workers 4 --lr-scaling auto",
                              "lr 0.01 x 2 (sqrt scaling, 4 replica(s))"), 0.02);
}

TEST(CommandLine, BadBucketSizesAreRefusedNamingTheFlag) {
    expectInputError("train --training-mode shared-gradients --bucket-size 0", "bad --bucket-size '0': expected a size like");
    expectInputError("train --training-mode shared-gradients --bucket-size 4parsecs", "bad --bucket-size '4parsecs'");
}

// --warmup-epochs becomes the steps of that many epochs of the job's rounds: 600 samples in
// batches of 32 are 19 batches, 9 rounds of 2 replicas; it is stored as those steps.
TEST(CommandLine, WarmupInEpochsIsThatManyOfTheJobsRounds) {
    expectInputError("train --warmup-epochs -1", "--warmup-epochs must be >= 0");
    expectInputError("train --warmup-epochs 1 --warmup-steps 10", "give one of them");
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 600, 100, true);
    const std::string common = "train --data-dir " + scratch.str() + kSmallMlp + " --epochs 1 --metrics ";
    const auto epochs = runCohort(common + scratch.file("epochs.jsonl") + " --workers 2 --warmup-epochs 1");
    ASSERT_EQ(epochs.exitCode, 0) << epochs.err;
    EXPECT_NE(epochs.out.find("cosine learning rate, warm-up 9 steps"), std::string::npos) << epochs.out;
    const auto half = runCohort(common + scratch.file("half.jsonl") + " --warmup-epochs 0.5 --workers 1");
    EXPECT_NE(half.out.find("warm-up 10 steps"), std::string::npos) << half.out;  // 19 rounds of 1 replica
    const auto steps = runCohort(common + scratch.file("steps.jsonl") + " --workers 2 --warmup-steps 9");
    ASSERT_EQ(steps.exitCode, 0) << steps.err;
    auto record = [&](const std::string& name) {  // the run record, which holds the settings
        const std::string metrics = testing_support::slurp(scratch.file(name));
        return metrics.substr(0, metrics.find('\n'));
    };
    EXPECT_NE(record("epochs.jsonl").find("\"warmup-steps\":\"9\""), std::string::npos) << record("epochs.jsonl");
    EXPECT_EQ(lastEpochValue(scratch.file("epochs.jsonl"), "train_loss"), lastEpochValue(scratch.file("steps.jsonl"), "train_loss"));
}

// A checkpoint written before --lr-scaling existed has no lr-scaling setting: it resumes without
// the flag (or with none), and a run that scales is refused naming the flag.
TEST(CommandLine, CheckpointsWithoutLearningRateScalingStillResume) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 600, 100, true);
    const std::string common = "train --data-dir " + scratch.str() + kSmallMlp + " --workers 2 ";
    const std::string directory = scratch.file("checkpoints");
    const auto written = runCohort(common + "--epochs 1 --checkpoint-dir " + directory);
    ASSERT_EQ(written.exitCode, 0) << written.err;
    const auto plain = runCohort(common + "--epochs 1 --resume " + directory);
    EXPECT_EQ(plain.exitCode, 0) << plain.err;
    const auto none = runCohort(common + "--epochs 1 --lr-scaling none --resume " + directory);
    EXPECT_EQ(none.exitCode, 0) << none.err;
    expectInputError(common + "--epochs 1 --lr-scaling sqrt --resume " + directory,
                     "--lr-scaling differs (the checkpoint has (absent), this run 'sqrt x1.4142135623730951')");
    // Written with scaling, it resumes with the same scaling only.
    const std::string scaled = scratch.file("scaled");
    ASSERT_EQ(runCohort(common + "--epochs 1 --lr-scaling linear --checkpoint-dir " + scaled).exitCode, 0);
    EXPECT_EQ(runCohort(common + "--epochs 1 --lr-scaling linear --resume " + scaled).exitCode, 0);
    expectInputError(common + "--epochs 1 --resume " + scaled,
                     "--lr-scaling differs (the checkpoint has 'linear x2', this run does not set it)");
}

TEST(CommandLine, ConfigFileSuppliesFlagsAndCommandLineWins) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    data::testing_support::writeText(scratch.file("run.ini"),
                                     "data-dir=" + scratch.str() + "\nepochs=0\nhidden=16\ndevice=cpu\n");
    expectInputError("train --config " + scratch.file("run.ini"), "--epochs");
    const auto ok = runCohort("train --config " + scratch.file("run.ini") + " --epochs 1 --quiet");
    EXPECT_EQ(ok.exitCode, 0) << ok.err;
    expectInputError("train --config " + scratch.file("missing.ini"), "missing.ini");
}

TEST(CommandLine, BenchTimesStepsWithoutDataAndRejectsZeroSteps) {
    ScratchDirectory scratch;
    const auto result = runCohort("bench --device cpu --threads-per-worker 1 --hidden 32 --batch-size 16 --steps 3 "
                                  "--warmup 1 --repeats 2 --metrics " + scratch.file("bench.jsonl"));
    ASSERT_EQ(result.exitCode, 0) << result.err;
    EXPECT_NE(result.out.find("us/step"), std::string::npos) << result.out;
    EXPECT_NE(testing_support::slurp(scratch.file("bench.jsonl")).find("\"event\":\"bench\""), std::string::npos);
    expectInputError("bench --steps 0", "--steps");
}

// LeNet's own defaults (batch 64, no dropout) apply only where the flags were not given.
TEST(CommandLine, LenetDefaultsApplyUnlessFlagsAreGiven) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 256, 64, false);
    const std::string common = "train --model lenet --device cpu --threads-per-worker 1 --epochs 1 --data-dir " + scratch.str();
    const auto defaults = runCohort(common);
    ASSERT_EQ(defaults.exitCode, 0) << defaults.err;
    EXPECT_NE(defaults.out.find("batch 64 per worker"), std::string::npos) << defaults.out;
    EXPECT_EQ(defaults.out.find("dropout"), std::string::npos) << defaults.out;
    const auto explicitFlags = runCohort(common + " --batch-size 128 --dropout 0.2");
    ASSERT_EQ(explicitFlags.exitCode, 0) << explicitFlags.err;
    EXPECT_NE(explicitFlags.out.find("batch 128 per worker"), std::string::npos) << explicitFlags.out;
    EXPECT_NE(explicitFlags.out.find("dropout(0.2"), std::string::npos) << explicitFlags.out;
    const auto mlp = runCohort("train --device cpu --threads-per-worker 1 --hidden 32 --epochs 1 --data-dir " + scratch.str());
    ASSERT_EQ(mlp.exitCode, 0) << mlp.err;
    EXPECT_NE(mlp.out.find("batch 128 per worker"), std::string::npos) << mlp.out;
    EXPECT_NE(mlp.out.find("dropout(0.2"), std::string::npos) << mlp.out;
    // bench times what train would run: LeNet's defaults apply there too.
    const auto bench = runCohort("bench --model lenet --device cpu --threads-per-worker 1 --steps 1 --warmup 1 --repeats 1");
    ASSERT_EQ(bench.exitCode, 0) << bench.err;
    EXPECT_NE(bench.out.find("batch 64"), std::string::npos) << bench.out;
    EXPECT_EQ(bench.out.find("dropout"), std::string::npos) << bench.out;
}

TEST(CommandLine, ModelFileTrainsAndBenchesAndBadFilesExitWith2) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 256, 64, false);
    const std::string model = scratch.file("tiny.json");
    data::testing_support::writeText(model, R"({"layers": [
        {"type": "conv2d", "filters": 4, "kernel": 5, "stride": 2, "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": "classes"}]})");
    const std::string small = " --device cpu --threads-per-worker 1 --batch-size 32 ";
    const auto trained = runCohort("train --data-dir " + scratch.str() + small + "--epochs 1 --model-file " + model);
    ASSERT_EQ(trained.exitCode, 0) << trained.err;
    const std::string layers = "conv2d(1x28x28->4,k5,s2,p0,relu) | maxpool2d(2,s2) | flatten | dense(144->10,identity)";
    EXPECT_NE(trained.out.find(layers), std::string::npos) << trained.out;
    EXPECT_NE(trained.out.find("epoch 1"), std::string::npos) << trained.out;
    const auto bench = runCohort("bench --device cpu --threads-per-worker 1 --batch-size 8 --steps 2 --warmup 1 "
                                 "--repeats 1 --model-file " + model);
    ASSERT_EQ(bench.exitCode, 0) << bench.err;
    EXPECT_NE(bench.out.find("conv2d(1x28x28->4"), std::string::npos) << bench.out;

    // A bad file fails before any data is loaded (the data directory here does not exist).
    const std::string bad = scratch.file("bad.json");
    data::testing_support::writeText(bad, R"({"layers": [{"type": "flatten"}, {"type": "transformer"}]})");
    expectInputError("train --data-dir " + scratch.str() + "/absent --model-file " + bad + small, bad);
    expectInputError("train --model-file " + bad + small, "layers[1]: unknown type 'transformer'");
    expectInputError("bench --model-file " + bad + small, bad);
    expectInputError("train --model-file " + scratch.file("missing.json") + small, "missing.json");
    // Shape errors and a wrong output size come after the data, naming the file too.
    data::testing_support::writeText(bad, R"({"layers": [{"type": "conv2d", "filters": 2, "kernel": 30},
                                              {"type": "flatten"}, {"type": "dense", "units": "classes"}]})");
    expectInputError("train --data-dir " + scratch.str() + " --model-file " + bad + small, "layers[0] (conv2d)");
    data::testing_support::writeText(bad, R"({"layers": [{"type": "flatten"}, {"type": "dense", "units": 3}]})");
    expectInputError("train --data-dir " + scratch.str() + " --model-file " + bad + small, "10 classes");
    // The flags it replaces are refused next to it.
    expectInputError("train --model-file " + model + " --hidden 32" + small, "remove --hidden");
    expectInputError("train --model-file " + model + " --model lenet" + small, "remove --model (");
}

TEST(CommandLine, HelpDocumentsEveryFlagAndInfoRuns) {
    const auto help = runCohort("train --help");
    EXPECT_EQ(help.exitCode, 0);
    for (const char* flag : {"--model", "--model-file", "--hidden", "--data", "--data-dir", "--device", "--epochs",
                             "--batch-size", "--optimizer", "--lr", "--lr-scaling", "--momentum", "--weight-decay", "--seed", "--metrics",
                             "--threads-per-worker", "--config", "--workspace-mode", "--maxbytes",
                             "--maxphysicalbytes"}) {
        EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
    }
    const auto info = runCohort("info");
    EXPECT_EQ(info.exitCode, 0) << info.err;
    EXPECT_NE(info.out.find("backends: cpu"), std::string::npos) << info.out;
}

}  // namespace
}  // namespace cohort
