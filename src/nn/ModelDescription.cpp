#include "src/nn/CausalSelfAttention.h"
#include "src/nn/Residual.h"
#include "src/nn/TiedHead.h"
#include "src/nn/ModelDescription.h"

#include <algorithm>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "src/core/Errors.h"
#include "src/core/JsonLimits.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/BatchNorm.h"
#include "src/nn/Conv2D.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Embedding.h"
#include "src/nn/Flatten.h"
#include "src/nn/Gelu.h"
#include "src/nn/LayerNorm.h"
#include "src/nn/Pooling2D.h"

namespace cohort::nn {
namespace {

using boost::property_tree::ptree;

constexpr std::int64_t kMaxWidth = std::int64_t(1) << 24;   // filters, units (as --hidden)
constexpr std::int64_t kMaxWindow = std::int64_t(1) << 16;  // kernel, size, stride, padding

// Keys each layer type takes besides "type", required ones first.
struct LayerKeys {
    std::vector<std::string> required;
    std::vector<std::string> optional;
};

const std::map<std::string, LayerKeys>& layerKeys() {
    static const std::map<std::string, LayerKeys> keys = {
        {"conv2d", {{"filters", "kernel"}, {"stride", "padding", "activation"}}},
        {"maxpool2d", {{"size"}, {"stride"}}},
        {"avgpool2d", {{"size"}, {"stride"}}},
        {"batchnorm", {{}, {"momentum", "epsilon"}}},
        {"layernorm", {{}, {"epsilon"}}},
        {"gelu", {{}, {}}},
        {"embedding", {{"vocabulary", "width"}, {}}},
        {"flatten", {{}, {}}},
        {"dense", {{"units"}, {"activation", "per_token"}}},
        {"attention", {{"heads"}, {}}},
        {"tied_head", {{}, {}}},
        {"residual", {{"layers"}, {}}},
        {"dropout", {{"rate"}, {}}},
        {"activation", {{"function"}, {}}},
    };
    return keys;
}

std::string join(const std::vector<std::string>& words, const char* separator = ", ") {
    std::string text;
    for (const auto& word : words) {
        if (!text.empty()) text += separator;
        text += word;
    }
    return text;
}

std::string typeNames() {
    std::vector<std::string> names;
    for (const auto& [name, keys] : layerKeys()) names.push_back(name);
    return join(names);
}

// A JSON value ptree keeps as text: no children (objects and arrays have children; an empty
// object or array reads as an empty string).
bool isScalar(const ptree& node) { return node.empty(); }

bool isArray(const ptree& node) {
    if (node.empty()) return false;
    for (const auto& [key, child] : node) {
        if (!key.empty()) return false;
    }
    return true;
}

bool isObject(const ptree& node) {
    if (node.empty()) return node.data().empty();  // {} (or "", which ptree cannot tell apart)
    for (const auto& [key, child] : node) {
        if (key.empty()) return false;
    }
    return true;
}

std::string formatNumber(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

// Reads the values of one layer object, naming the file, the layer and the key in every error.
class LayerReader {
public:
    LayerReader(const ptree& node, std::string where) : node_(node), where_(std::move(where)) {}

    void fail(const std::string& problem) const { throw InputError(where_ + ": " + problem); }

    bool has(const std::string& key) const { return node_.find(key) != node_.not_found(); }

    std::string scalar(const std::string& key) const {
        const ptree& value = node_.find(key)->second;
        if (!isScalar(value)) fail("'" + key + "' must be a number or a string, not an object or array");
        return value.data();
    }

    std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t low, std::int64_t high) const {
        if (!has(key)) return fallback;
        const std::string text = scalar(key);
        std::int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) {
            fail("'" + key + "' must be an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
                 "], got '" + text + "'");
        }
        return value;
    }

    // A finite number in the range `range` describes; `inRange` decides.
    template <typename Predicate>
    double real(const std::string& key, double fallback, const std::string& range, Predicate inRange) const {
        if (!has(key)) return fallback;
        const std::string text = scalar(key);
        double value = 0.0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || !inRange(value)) {
            fail("'" + key + "' must be a number in " + range + ", got '" + text + "'");
        }
        return value;
    }

    kernels::Activation activation(const std::string& key, bool allowIdentity) const {
        if (!has(key)) return kernels::Activation::Identity;
        const std::string text = scalar(key);
        if (text == "relu") return kernels::Activation::Relu;
        if (text == "tanh") return kernels::Activation::Tanh;
        if (text == "sigmoid") return kernels::Activation::Sigmoid;
        if (allowIdentity && text == "identity") return kernels::Activation::Identity;
        fail("unknown " + key + " '" + text + "'; choose " + (allowIdentity ? "identity, " : "") +
             "relu, tanh or sigmoid");
        return kernels::Activation::Identity;
    }

private:
    const ptree& node_;
    std::string where_;
};

LayerDescription readLayer(const ptree& node, const std::string& where);

// A residual block's "layers": a non-empty array of layer objects (no embedding: it must come first).
std::vector<LayerDescription> readBody(const ptree& layers, const std::string& where) {
    if (!isArray(layers)) throw InputError(where + ": 'layers' must be a non-empty array of layer objects");
    std::vector<LayerDescription> body;
    for (const auto& [key, child] : layers) {
        body.push_back(readLayer(child, where + ".layers[" + std::to_string(body.size()) + "]"));
        if (body.back().type == "embedding") {
            throw InputError(where + ".layers[" + std::to_string(body.size() - 1) + "] (embedding) must be the model's first layer");
        }
    }
    return body;
}

// The keys of `layer`'s type into it (checked by `typed`, which names the layer).
void readTypedKeys(LayerDescription& layer, const LayerReader& typed, const ptree& node, const std::string& where) {
    const std::string& type = layer.type;
    if (type == "conv2d") {
        layer.count = typed.integer("filters", 0, 1, kMaxWidth);
        layer.size = typed.integer("kernel", 0, 1, kMaxWindow);
        layer.stride = typed.integer("stride", 1, 1, kMaxWindow);
        layer.padding = typed.integer("padding", 0, 0, kMaxWindow);
        layer.activation = typed.activation("activation", true);
    } else if (type == "maxpool2d" || type == "avgpool2d") {
        layer.size = typed.integer("size", 0, 1, kMaxWindow);
        layer.stride = typed.integer("stride", layer.size, 1, kMaxWindow);
    } else if (type == "batchnorm") {
        layer.momentum = typed.real("momentum", 0.1, "(0, 1]", [](double v) { return v > 0.0 && v <= 1.0; });
        layer.epsilon = typed.real("epsilon", 1e-5, "(0, inf)", [](double v) { return v > 0.0; });
    } else if (type == "layernorm") {
        layer.epsilon = typed.real("epsilon", 1e-5, "(0, inf)", [](double v) { return v > 0.0; });
    } else if (type == "embedding") {
        layer.count = typed.integer("width", 0, 1, kMaxWidth);
        if (typed.scalar("vocabulary") == "classes") {
            layer.unitsAreClasses = true;  // a language model's classes are its tokens
        } else {
            try {
                layer.size = typed.integer("vocabulary", 0, 1, kMaxWidth);
            } catch (const InputError&) {
                typed.fail("'vocabulary' must be an integer in [1, " + std::to_string(kMaxWidth) +
                           "] or \"classes\", got '" + typed.scalar("vocabulary") + "'");
            }
        }
    } else if (type == "dense") {
        if (typed.scalar("units") == "classes") {
            layer.unitsAreClasses = true;
        } else {
            try {
                layer.count = typed.integer("units", 0, 1, kMaxWidth);
            } catch (const InputError&) {
                typed.fail("'units' must be an integer in [1, " + std::to_string(kMaxWidth) +
                           "] or \"classes\", got '" + typed.scalar("units") + "'");
            }
        }
        layer.activation = typed.activation("activation", true);
        if (typed.has("per_token")) {
            const std::string perToken = typed.scalar("per_token");
            if (perToken != "true" && perToken != "false") typed.fail("'per_token' must be true or false, got '" + perToken + "'");
            layer.perToken = perToken == "true";
        }
    } else if (type == "attention") {
        layer.count = typed.integer("heads", 0, 1, kMaxWindow);
    } else if (type == "residual") {
        layer.body = readBody(node.find("layers")->second, where + " (residual)");
    } else if (type == "dropout") {
        layer.rate = typed.real("rate", 0.0, "[0, 1)", [](double v) { return v >= 0.0 && v < 1.0; });
    } else if (type == "activation") {
        layer.activation = typed.activation("function", false);
    }
}

LayerDescription readLayer(const ptree& node, const std::string& where) {
    LayerReader reader(node, where);
    if (!isObject(node)) reader.fail("expected an object like {\"type\": \"dense\", \"units\": 10}");
    std::set<std::string> seen;
    for (const auto& [key, child] : node) {
        if (!seen.insert(key).second) reader.fail("duplicate key '" + key + "'");
    }
    if (!reader.has("type")) reader.fail("missing required key 'type' (one of " + typeNames() + ")");
    LayerDescription layer;
    layer.type = reader.scalar("type");
    const auto known = layerKeys().find(layer.type);
    if (known == layerKeys().end()) reader.fail("unknown type '" + layer.type + "'; choose " + typeNames());
    const LayerKeys& keys = known->second;
    LayerReader typed(node, where + " (" + layer.type + ")");
    for (const auto& [key, child] : node) {
        if (key == "type") continue;
        const bool required = std::find(keys.required.begin(), keys.required.end(), key) != keys.required.end();
        const bool optional = std::find(keys.optional.begin(), keys.optional.end(), key) != keys.optional.end();
        if (required || optional) continue;
        std::vector<std::string> all = keys.required;
        all.insert(all.end(), keys.optional.begin(), keys.optional.end());
        typed.fail("unknown key '" + key + "'; " + layer.type +
                   (all.empty() ? " takes no keys besides type" : " takes " + join(all)));
    }
    for (const auto& key : keys.required) {
        if (!typed.has(key)) typed.fail("missing required key '" + key + "'");
    }

    readTypedKeys(layer, typed, node, where);
    return layer;
}

std::string prefix(const std::string& source) { return "model file " + source; }

std::string layerWhere(const std::string& source, std::size_t index, const std::string& type) {
    return prefix(source) + ": layers[" + std::to_string(index) + "] (" + type + ")";
}

}  // namespace

std::string LayerDescription::text() const {
    const std::string act = kernels::toString(activation);
    if (type == "conv2d") {
        return "conv2d(filters=" + std::to_string(count) + ",kernel=" + std::to_string(size) +
               ",stride=" + std::to_string(stride) + ",padding=" + std::to_string(padding) + ",activation=" + act + ")";
    }
    if (type == "maxpool2d" || type == "avgpool2d") {
        return type + "(size=" + std::to_string(size) + ",stride=" + std::to_string(stride) + ")";
    }
    if (type == "batchnorm")
        return "batchnorm(momentum=" + formatNumber(momentum) + ",epsilon=" + formatNumber(epsilon) + ")";
    if (type == "layernorm") return "layernorm(epsilon=" + formatNumber(epsilon) + ")";
    if (type == "embedding") {
        return "embedding(vocabulary=" + (unitsAreClasses ? std::string("classes") : std::to_string(size)) +
               ",width=" + std::to_string(count) + ")";
    }
    if (type == "dense") {
        return "dense(units=" + (unitsAreClasses ? std::string("classes") : std::to_string(count)) +
               ",activation=" + act + (perToken ? ",per_token=true" : "") + ")";
    }
    if (type == "attention") return "attention(heads=" + std::to_string(count) + ")";
    if (type == "residual") {
        std::string text = "residual(";
        for (std::size_t i = 0; i < body.size(); ++i) text += (i ? "; " : "") + body[i].text();
        return text + ")";
    }
    if (type == "dropout") return "dropout(rate=" + formatNumber(rate) + ")";
    if (type == "activation") return "activation(function=" + act + ")";
    return type + "()";
}

std::unique_ptr<Layer> LayerDescription::build(int classes) const {
    if (type == "conv2d") return std::make_unique<Conv2D>(count, size, stride, padding, activation);
    if (type == "maxpool2d") return std::make_unique<MaxPool2D>(size, stride);
    if (type == "avgpool2d") return std::make_unique<AvgPool2D>(size, stride);
    if (type == "batchnorm") return std::make_unique<BatchNorm>(momentum, epsilon);
    if (type == "flatten") return std::make_unique<Flatten>();
    if (type == "layernorm") return std::make_unique<LayerNorm>(epsilon);
    if (type == "gelu") return std::make_unique<Gelu>();
    if (type == "embedding") return std::make_unique<Embedding>(unitsAreClasses ? std::int64_t(classes) : size, count);
    if (type == "dense") return std::make_unique<Dense>(unitsAreClasses ? std::int64_t(classes) : count, activation, perToken);
    if (type == "attention") return std::make_unique<CausalSelfAttention>(count);
    if (type == "tied_head") return std::make_unique<TiedHead>(classes);
    if (type == "residual") {
        std::vector<std::unique_ptr<Layer>> built;
        for (const auto& layer : body) built.push_back(layer.build(classes));
        return std::make_unique<Residual>(std::move(built));
    }
    if (type == "dropout") return std::make_unique<Dropout>(rate);
    if (type == "activation") return std::make_unique<ActivationLayer>(activation);
    throw InputError("unknown layer type '" + type + "'; choose " + typeNames());
}

std::string ModelDescription::text() const {
    std::string result;
    for (const auto& layer : layers) {
        if (!result.empty()) result += "; ";
        result += layer.text();
    }
    return result;
}

std::vector<std::unique_ptr<Layer>> ModelDescription::buildLayers(int classes) const {
    std::vector<std::unique_ptr<Layer>> built;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        try {
            built.push_back(layers[i].build(classes));
        } catch (const InputError& error) {
            throw InputError(layerWhere(source, i, layers[i].type) + ": " + error.what());
        }
    }
    return built;
}

std::unique_ptr<Model> ModelDescription::buildModel(const Shape& inputSample, int classes, DType dtype,
                                                    MemoryLocation location) const {
    auto built = buildLayers(classes);
    // Chain fresh copies through the shapes first, as Model does, so a shape error names its
    // layer and nothing is allocated for a model that cannot be built.
    Shape shape = inputSample;
    for (std::size_t i = 0; i < built.size(); ++i) {
        try {
            auto probe = built[i]->clone();
            probe->configure(shape);
            shape = probe->outputShape(shape);
        } catch (const InputError& error) {
            throw InputError(layerWhere(source, i, layers[i].type) + ": " + error.what() +
                             (i > 0 ? " (model input " + inputSample.toString() + ")" : ""));
        }
    }
    std::unique_ptr<Model> model;
    try {
        model = std::make_unique<Model>(std::move(built), inputSample, dtype, location);
    } catch (const InputError& error) {
        throw InputError(prefix(source) + ": " + error.what());
    }
    // A classifier's output is `classes` values; a language model's `classes` per position.
    if (model->outputSample().elementCount() / model->predictionsPerSample() != classes) {
        throw InputError(prefix(source) + ": the last layer (layers[" + std::to_string(layers.size() - 1) + "], " +
                         layers.back().type + ") produces " + std::to_string(model->outputSample().elementCount()) +
                         " values per sample but the data set has " + std::to_string(classes) +
                         " classes; end with {\"type\": \"dense\", \"units\": \"classes\"}");
    }
    return model;
}

ModelDescription parseModelDescription(const std::string& jsonText, const std::string& sourceName) {
    checkJsonNesting(jsonText, prefix(sourceName));
    ptree root;
    try {
        std::istringstream stream(jsonText);
        boost::property_tree::read_json(stream, root);
    } catch (const boost::property_tree::json_parser_error& error) {
        throw InputError(prefix(sourceName) + ": JSON syntax error on line " + std::to_string(error.line()) + ": " +
                         error.message());
    }
    const std::string example = "expected {\"layers\": [{\"type\": ...}, ...]}";
    if (!isObject(root)) throw InputError(prefix(sourceName) + ": the top level must be an object; " + example);
    for (const auto& [key, child] : root) {
        if (key != "layers") throw InputError(prefix(sourceName) + ": unknown top-level key '" + key + "'; " + example);
    }
    if (root.count("layers") > 1) throw InputError(prefix(sourceName) + ": duplicate key 'layers'");
    const auto layers = root.find("layers");
    if (layers == root.not_found()) throw InputError(prefix(sourceName) + ": no \"layers\" array; " + example);
    if (!isArray(layers->second)) {
        throw InputError(prefix(sourceName) + ": \"layers\" must be a non-empty array of layer objects; " + example);
    }
    ModelDescription description;
    description.source = sourceName;
    std::size_t index = 0;
    for (const auto& [key, node] : layers->second) {
        description.layers.push_back(readLayer(node, prefix(sourceName) + ": layers[" + std::to_string(index) + "]"));
        if (index > 0 && description.layers.back().type == "embedding") {
            throw InputError(prefix(sourceName) + ": layers[" + std::to_string(index) +
                             "] (embedding) must be the first layer: it reads token ids, which have no gradient");
        }
        ++index;
    }
    return description;
}

ModelDescription readModelDescriptionFile(const std::string& path) {
    std::error_code ignored;
    if (std::filesystem::is_directory(path, ignored)) throw InputError(prefix(path) + ": is a directory, not a file");
    if (std::filesystem::exists(path, ignored) && !std::filesystem::is_regular_file(path, ignored)) {
        throw InputError(prefix(path) + ": is not a regular file (a FIFO, device or socket)");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) throw InputError(prefix(path) + ": cannot read it (" + std::strerror(errno) + ")");
    // A model description is a few kilobytes; more than a mebibyte is not one.
    constexpr std::streamsize kLargest = 1 << 20;
    std::string text(std::size_t(kLargest) + 1, '\0');
    file.read(text.data(), kLargest + 1);
    if (file.bad()) throw InputError(prefix(path) + ": cannot read it (" + std::strerror(errno) + ")");
    if (file.gcount() > kLargest) throw InputError(prefix(path) + ": larger than 1 MiB; not a model description");
    text.resize(std::size_t(file.gcount()));
    return parseModelDescription(text, path);
}

std::vector<std::unique_ptr<Layer>> layersFromDescription(const std::string& jsonText, const std::string& sourceName,
                                                          int classes) {
    return parseModelDescription(jsonText, sourceName).buildLayers(classes);
}

std::vector<std::unique_ptr<Layer>> layersFromDescriptionFile(const std::string& path, int classes) {
    return readModelDescriptionFile(path).buildLayers(classes);
}

}  // namespace cohort::nn
