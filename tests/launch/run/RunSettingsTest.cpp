// The settings text, its hash, and the naming of the first differing setting (what the start-up
// agreement compares; the collective itself runs under mpirun in tests/mpi/).
#include "launch/run/RunSettings.h"

#include <gtest/gtest.h>

namespace cohort::launch {
namespace {

TEST(ConfigurationAgreement, NamesTheFirstDifferingFlagWithBothValues) {
    const std::string root = "model=mlp\nlr=0.05\nseed=1\n";
    EXPECT_EQ(describeFirstDifference(root, root, 1), "");
    EXPECT_EQ(describeFirstDifference(root, "model=mlp\nlr=0.02\nseed=2\n", 1), "--lr: rank 1 has '0.02', rank 0 has '0.05'");
    EXPECT_EQ(describeFirstDifference("parameters=10\n", "parameters=12\n", 3),
              "parameters: rank 3 has '12', rank 0 has '10'");
    EXPECT_EQ(describeFirstDifference(root, "model=mlp\nlr=0.05\n", 2), "--seed: rank 2 has (absent), rank 0 has '1'");
}

TEST(ConfigurationAgreement, HashDistinguishesSettingsAndIsStable) {
    EXPECT_EQ(settingsHash(""), 0xcbf29ce484222325ULL);  // FNV-1a offset basis
    EXPECT_EQ(settingsHash("lr=0.05\n"), settingsHash("lr=0.05\n"));
    EXPECT_NE(settingsHash("lr=0.05\n"), settingsHash("lr=0.02\n"));
}

TEST(ConfigurationAgreement, SettingsTextHasResolvedValuesAndLeavesOutPerHostFlags) {
    RunOptions options;
    options.dataDir = "/somewhere/only/on/this/host";
    options.threadsPerWorker = 3;
    RunSetup setup;
    setup.baseLearningRate = 0.05;
    setup.parallel.workers = 2;
    const std::string text = trainingSettings(options, setup);
    EXPECT_NE(text.find("lr=0.05\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("lr-scaling"), std::string::npos) << text;  // absent without scaling, as before the flag
    EXPECT_NE(text.find("workers=2\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("/somewhere"), std::string::npos) << text;
    EXPECT_EQ(text.find("threads"), std::string::npos) << text;
}

TEST(ConfigurationAgreement, ModelFileLayersTakeThePlaceOfTheArchitectureFlags) {
    RunOptions options;
    options.hidden = {77};
    options.modelFile = "/only/on/this/host/net.json";
    RunSetup setup;
    setup.modelDescription =
        nn::parseModelDescription(R"({"layers": [{"type": "dense", "units": "classes"}]})", options.modelFile);
    const std::string text = trainingSettings(options, setup);
    EXPECT_NE(text.find("model-file-layers=dense(units=classes,activation=identity)\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("77"), std::string::npos) << text;
    EXPECT_EQ(text.find("/only/on/this/host"), std::string::npos) << text;
    setup.modelDescription->layers[0].activation = kernels::Activation::Relu;
    const std::string other = trainingSettings(options, setup);
    const std::string difference = describeFirstDifference(text, other, 1);
    EXPECT_EQ(difference.rfind("model-file-layers: rank 1 has 'dense(units=classes,activation=relu)'", 0), 0u)
        << difference;
}

}  // namespace
}  // namespace cohort::launch
