// Model-description files (src/nn/ModelDescription): a JSON LeNet builds the same model as
// `--model lenet`, defaults are filled in, and every kind of bad file is one InputError line
// naming the file, the layer and the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>

#include "data/DataTestSupport.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "src/nn/ModelDescription.h"

namespace cohort::nn {
namespace {

using ::testing::HasSubstr;

const Shape kMnist{1, 28, 28};

// LeNet exactly as buildLayers({"lenet", ..., dropout 0.2}) makes it.
const std::string kLenet = R"({"layers": [
    {"type": "conv2d", "filters": 20, "kernel": 5, "stride": 1, "padding": 0, "activation": "relu"},
    {"type": "maxpool2d", "size": 2, "stride": 2},
    {"type": "conv2d", "filters": 50, "kernel": 5, "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 500, "activation": "relu"},
    {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": "classes"}
]})";

std::filesystem::path examplesDirectory() {
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "models";
}

// The message of the InputError that parsing (and, with `build`, building for MNIST with 10
// classes) throws; fails the test when nothing or something else is thrown.
std::string errorOf(const std::string& json, bool build = false) {
    try {
        const ModelDescription description = parseModelDescription(json, "net.json");
        if (build)
            description.buildModel(kMnist, 10);
        else
            description.buildLayers(10);
    } catch (const InputError& error) {
        return error.what();
    }
    ADD_FAILURE() << "no InputError for " << json;
    return "";
}

void expectError(const std::string& json, std::initializer_list<const char*> mentions, bool build = false) {
    const std::string message = errorOf(json, build);
    EXPECT_THAT(message, HasSubstr("model file net.json: ")) << json;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const char* mention : mentions) EXPECT_THAT(message, HasSubstr(mention)) << json;
}

std::string oneLayer(const std::string& layer) {
    return R"({"layers": [)" + layer + R"(, {"type": "flatten"}, {"type": "dense", "units": "classes"}]})";
}

TEST(ModelDescription, LenetDescriptionBuildsTheBuiltInLenet) {
    const auto builtIn = buildModel(ArchitectureConfig{"lenet", {}, 0.2, "relu"}, kMnist, 10);
    const auto described = parseModelDescription(kLenet, "lenet.json").buildModel(kMnist, 10);
    EXPECT_EQ(described->describe(), builtIn->describe());
    EXPECT_EQ(described->parameterCount(), builtIn->parameterCount());
    EXPECT_EQ(described->layerCount(), builtIn->layerCount());

    // The shipped example is the same model.
    const auto example = readModelDescriptionFile((examplesDirectory() / "lenet.json").string()).buildModel(kMnist, 10);
    EXPECT_EQ(example->describe(), builtIn->describe());
    EXPECT_EQ(example->parameterCount(), builtIn->parameterCount());
}

TEST(ModelDescription, FillsDefaultsAndUsesTheClassCount) {
    const auto description = parseModelDescription(R"({"layers": [
        {"type": "conv2d", "filters": 3, "kernel": 3},
        {"type": "avgpool2d", "size": 2},
        {"type": "batchnorm"},
        {"type": "activation", "function": "tanh"},
        {"type": "flatten"},
        {"type": "dense", "units": "classes"}]})",
                                                   "defaults.json");
    ASSERT_EQ(description.layers.size(), 6u);
    EXPECT_EQ(description.text(),
              "conv2d(filters=3,kernel=3,stride=1,padding=0,activation=identity); avgpool2d(size=2,stride=2); "
              "batchnorm(momentum=0.1,epsilon=1e-05); activation(function=tanh); flatten(); "
              "dense(units=classes,activation=identity)");
    const auto model = description.buildModel(kMnist, 7);
    EXPECT_EQ(model->outputSample().elementCount(), 7);
    EXPECT_EQ(description.buildLayers(3).size(), 6u);
    // Written differently (explicit defaults, other key order), the same canonical text.
    const auto explicitDefaults = parseModelDescription(R"({"layers": [
        {"kernel": 3, "filters": 3, "type": "conv2d", "padding": 0, "stride": 1, "activation": "identity"},
        {"type": "avgpool2d", "size": 2, "stride": 2},
        {"type": "batchnorm", "epsilon": 1e-5, "momentum": 0.1},
        {"type": "activation", "function": "tanh"},
        {"type": "flatten"},
        {"type": "dense", "units": "classes", "activation": "identity"}]})",
                                                        "explicit.json");
    EXPECT_EQ(explicitDefaults.text(), description.text());
}

TEST(ModelDescription, LenetWithBatchNormExampleBuilds) {
    const auto description = readModelDescriptionFile((examplesDirectory() / "lenet-batchnorm.json").string());
    const auto model = description.buildModel(kMnist, 10);
    EXPECT_EQ(model->layerCount(), 12u);
    EXPECT_EQ(model->outputSample().elementCount(), 10);
    const auto lenet = buildModel(ArchitectureConfig{"lenet", {}, 0.2, "relu"}, kMnist, 10);
    EXPECT_GT(model->parameterCount(), lenet->parameterCount());  // gamma and beta per channel
}

TEST(ModelDescription, UnreadableFileNamesIt) {
    data::testing_support::ScratchDirectory scratch;
    const std::string absent = scratch.file("absent.json");
    try {
        readModelDescriptionFile(absent);
        ADD_FAILURE() << "no error for a missing file";
    } catch (const InputError& error) {
        EXPECT_THAT(std::string(error.what()), HasSubstr("model file " + absent + ": cannot read"));
    }
    try {
        readModelDescriptionFile(scratch.str());
        ADD_FAILURE() << "no error for a directory";
    } catch (const InputError& error) {
        EXPECT_THAT(std::string(error.what()), HasSubstr("is a directory"));
    }
    data::testing_support::writeText(scratch.file("empty.json"), "");
    try {
        layersFromDescriptionFile(scratch.file("empty.json"), 10);
        ADD_FAILURE() << "no error for an empty file";
    } catch (const InputError& error) {
        EXPECT_THAT(std::string(error.what()), HasSubstr("empty.json: JSON syntax error on line 1"));
    }
    data::testing_support::writeText(scratch.file("ok.json"), kLenet);
    EXPECT_EQ(layersFromDescriptionFile(scratch.file("ok.json"), 10).size(), 8u);
}

TEST(ModelDescription, SyntaxErrorNamesTheLine) {
    expectError("{\"layers\": [\n  {\"type\": \"flatten\"}\n  {\"type\": \"dense\", \"units\": 10}\n]}",
                {"JSON syntax error on line 3"});
    expectError("{\"layers\": [{\"type\": \"flatten\"}", {"JSON syntax error on line 1"});
    expectError("not json", {"JSON syntax error"});
}

TEST(ModelDescription, NeedsANonEmptyLayersArray) {
    expectError("{}", {"no \"layers\" array"});
    expectError(R"({"layers": []})", {"\"layers\" must be a non-empty array"});
    expectError(R"({"layers": 5})", {"\"layers\" must be a non-empty array"});
    expectError(R"({"layers": {"type": "flatten"}})", {"\"layers\" must be a non-empty array"});
    expectError(R"({"layer": [{"type": "flatten"}]})", {"unknown top-level key 'layer'"});
    expectError(R"([{"type": "flatten"}])", {"top level must be an object"});
    expectError(R"({"layers": [5]})", {"layers[0]", "expected an object"});
}

TEST(ModelDescription, RejectsUnknownTypesAndKeys) {
    expectError(R"({"layers": [{"type": "flatten"}, {"type": "conv3d", "filters": 2}]})",
                {"layers[1]", "unknown type 'conv3d'", "conv2d"});
    expectError(R"({"layers": [{"units": 10}]})", {"layers[0]", "missing required key 'type'"});
    expectError(R"({"layers": [{"type": "dense", "unit": 10}]})",
                {"layers[0] (dense)", "unknown key 'unit'", "dense takes units, activation"});
    expectError(R"({"layers": [{"type": "flatten", "size": 2}]})",
                {"layers[0] (flatten)", "unknown key 'size'", "no keys"});
    expectError(oneLayer(R"({"type": "maxpool2d", "size": 2, "padding": 1})"), {"layers[0] (maxpool2d)", "'padding'"});
    expectError(R"({"layers": [{"type": "dense", "units": 10, "units": 20}]})", {"layers[0]", "duplicate key 'units'"});
    expectError(R"({"layers": [{"type": {"name": "dense"}}]})", {"layers[0]", "'type'"});
}

TEST(ModelDescription, RejectsMissingRequiredKeys) {
    expectError(oneLayer(R"({"type": "conv2d", "kernel": 5})"),
                {"layers[0] (conv2d)", "missing required key 'filters'"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 5})"),
                {"layers[0] (conv2d)", "missing required key 'kernel'"});
    expectError(oneLayer(R"({"type": "maxpool2d"})"), {"layers[0] (maxpool2d)", "missing required key 'size'"});
    expectError(oneLayer(R"({"type": "avgpool2d", "stride": 2})"),
                {"layers[0] (avgpool2d)", "missing required key 'size'"});
    expectError(R"({"layers": [{"type": "dense"}]})", {"layers[0] (dense)", "missing required key 'units'"});
    expectError(oneLayer(R"({"type": "dropout"})"), {"layers[0] (dropout)", "missing required key 'rate'"});
    expectError(oneLayer(R"({"type": "activation"})"), {"layers[0] (activation)", "missing required key 'function'"});
}

TEST(ModelDescription, RejectsNonIntegerAndOutOfRangeNumbers) {
    expectError(oneLayer(R"({"type": "conv2d", "filters": 2.5, "kernel": 5})"),
                {"layers[0] (conv2d)", "'filters'", "2.5"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 0, "kernel": 5})"), {"'filters' must be an integer in [1, "});
    expectError(oneLayer(R"({"type": "conv2d", "filters": -3, "kernel": 5})"), {"'filters'", "-3"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 2, "kernel": 0})"), {"'kernel'"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 2, "kernel": 3, "stride": 0})"), {"'stride'"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 2, "kernel": 3, "padding": -1})"),
                {"'padding' must be an integer in [0, "});
    expectError(oneLayer(R"({"type": "conv2d", "filters": "many", "kernel": 3})"), {"'filters'", "'many'"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": [2], "kernel": 3})"),
                {"'filters'", "not an object or array"});
    expectError(oneLayer(R"({"type": "maxpool2d", "size": 0})"), {"layers[0] (maxpool2d)", "'size'"});
    expectError(oneLayer(R"({"type": "avgpool2d", "size": 2, "stride": 0})"), {"layers[0] (avgpool2d)", "'stride'"});
    expectError(R"({"layers": [{"type": "dense", "units": 0}]})", {"'units'", "\"classes\""});
    expectError(R"({"layers": [{"type": "dense", "units": "lots"}]})", {"'units'", "'lots'"});
    expectError(R"({"layers": [{"type": "dense", "units": 1e3}]})", {"'units'", "'1e3'"});
    expectError(oneLayer(R"({"type": "dropout", "rate": 1})"),
                {"layers[0] (dropout)", "'rate' must be a number in [0, 1)"});
    expectError(oneLayer(R"({"type": "dropout", "rate": -0.1})"), {"'rate'"});
    expectError(oneLayer(R"({"type": "dropout", "rate": "half"})"), {"'rate'", "'half'"});
    expectError(oneLayer(R"({"type": "batchnorm", "momentum": 0})"), {"layers[0] (batchnorm)", "'momentum'", "(0, 1]"});
    expectError(oneLayer(R"({"type": "batchnorm", "momentum": 1.5})"), {"'momentum'"});
    expectError(oneLayer(R"({"type": "batchnorm", "epsilon": 0})"), {"'epsilon'"});
    expectError(oneLayer(R"({"type": "batchnorm", "epsilon": -1e-5})"), {"'epsilon'"});
    // The largest accepted values are accepted.
    EXPECT_NO_THROW(parseModelDescription(oneLayer(R"({"type": "dropout", "rate": 0})"), "net.json"));
    EXPECT_NO_THROW(parseModelDescription(oneLayer(R"({"type": "batchnorm", "momentum": 1})"), "net.json"));
}

TEST(ModelDescription, RejectsUnknownActivations) {
    expectError(R"({"layers": [{"type": "dense", "units": 10, "activation": "gelu"}]})",
                {"layers[0] (dense)", "unknown activation 'gelu'", "relu"});
    expectError(oneLayer(R"({"type": "conv2d", "filters": 2, "kernel": 3, "activation": "Relu"})"),
                {"layers[0] (conv2d)", "'Relu'"});
    expectError(oneLayer(R"({"type": "activation", "function": "softmax"})"),
                {"layers[0] (activation)", "unknown function 'softmax'"});
}

TEST(ModelDescription, ShapeErrorsNameTheLayer) {
    // A 5x5 kernel after two 2x2 pools and a 5x5 conv: 28 -> 24 -> 12 -> 8 -> 4, too small.
    expectError(R"({"layers": [
        {"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "flatten"}, {"type": "dense", "units": "classes"}]})",
                {"layers[4] (conv2d)", "does not fit"}, true);
    expectError(R"({"layers": [{"type": "conv2d", "filters": 2, "kernel": 40}, {"type": "dense", "units": 10}]})",
                {"layers[0] (conv2d)", "does not fit"}, true);
    expectError(R"({"layers": [{"type": "dense", "units": 8}, {"type": "maxpool2d", "size": 2},
                    {"type": "dense", "units": 10}]})",
                {"layers[1] (maxpool2d)", "{C,H,W}"}, true);
}

TEST(ModelDescription, LastLayerMustProduceTheClassCount) {
    expectError(R"({"layers": [{"type": "dense", "units": 5}]})",
                {"layers[0], dense) produces 5 values per sample", "10 classes", "\"units\": \"classes\""}, true);
    expectError(R"({"layers": [{"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "flatten"}]})",
                {"produces 1152 values", "10 classes"}, true);
    EXPECT_NO_THROW(
        parseModelDescription(R"({"layers": [{"type": "dense", "units": 10}]})", "net.json").buildModel(kMnist, 10));
}

}  // namespace
}  // namespace cohort::nn
