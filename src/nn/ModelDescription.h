#pragma once
// Model-description files: a small sequential architecture written as JSON, so a new one needs
// no recompiling (`cohort train --model-file net.json`; format in docs/MODEL-FILES.md):
//
//   { "layers": [ {"type": "conv2d", "filters": 20, "kernel": 5, "activation": "relu"},
//                 {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
//                 {"type": "dense", "units": "classes"} ] }
//
// Parsing (Boost.PropertyTree's JSON parser) is strict: an unreadable file, a syntax error, an
// unknown layer type or key, a missing required key, a number out of range and an unknown
// activation are each an InputError of one line naming the file, the layer (layers[i]) and the
// key. Shape errors found when the layers are chained for an input (a kernel larger than its
// input) are prefixed the same way, and the last layer must produce the class count.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/nn/Model.h"

namespace cohort::nn {

// One validated entry of "layers", with every default filled in.
struct LayerDescription {
    std::string type;        // conv2d | maxpool2d | avgpool2d | batchnorm | layernorm | flatten | dense | dropout |
                             // activation | gelu | embedding | attention (count = heads) | residual
    std::int64_t count = 0;  // conv2d filters, dense units, embedding width; 0 with unitsAreClasses
    bool unitsAreClasses = false;                                    // dense "units" / embedding "vocabulary": "classes"
    std::int64_t size = 0;                                           // conv2d kernel, pooling window, embedding vocabulary
    std::int64_t stride = 1;                                         // conv2d, pooling (pooling's default is its size)
    std::int64_t padding = 0;                                        // conv2d
    double rate = 0.0;                                               // dropout
    double momentum = 0.1;                                           // batchnorm
    double epsilon = 1e-5;                                           // batchnorm, layernorm
    kernels::Activation activation = kernels::Activation::Identity;  // conv2d, dense, activation
    bool perToken = false;                                           // dense: one row per token
    std::vector<LayerDescription> body;                              // residual: y = x + body(x)

    // Canonical text with every key, e.g. "dense(units=500,activation=relu)": equal for files
    // that describe the same model however they are written (for the mpirun agreement hash).
    std::string text() const;
    std::unique_ptr<Layer> build(int classes) const;
};

struct ModelDescription {
    std::string source;  // the file name (or the name given to the string parser), for messages
    std::vector<LayerDescription> layers;

    // "conv2d(...); maxpool2d(...); ..." from LayerDescription::text().
    std::string text() const;
    // Fresh, unconfigured layers for a classifier of `classes` outputs.
    std::vector<std::unique_ptr<Layer>> buildLayers(int classes) const;
    // The model for per-sample input `inputSample`. Shape errors name the file and the layer;
    // throws InputError when the output is not `classes` values per sample.
    std::unique_ptr<Model> buildModel(const Shape& inputSample, int classes, DType dtype = DType::Float32,
                                      MemoryLocation location = MemoryLocation::host()) const;
};

// Parses and validates a description; `sourceName` names it in error messages.
ModelDescription parseModelDescription(const std::string& jsonText, const std::string& sourceName);
ModelDescription readModelDescriptionFile(const std::string& path);

// Shorthands: the layers of a description for `classes` outputs.
std::vector<std::unique_ptr<Layer>> layersFromDescription(const std::string& jsonText, const std::string& sourceName,
                                                          int classes);
std::vector<std::unique_ptr<Layer>> layersFromDescriptionFile(const std::string& path, int classes);

}  // namespace cohort::nn
