#pragma once
// Model: a sequence of layers whose parameters live in ONE flat buffer (and whose gradients
// live in a second one of the same layout). Layers hold views into those buffers, so averaging,
// checkpointing and broadcasting a model are one operation each on one buffer. Non-trainable
// state (batch norm's running statistics) lives in a third flat buffer, statistics(), empty for
// most models.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/nn/Layer.h"

namespace cohort::nn {

// A named block of a flat buffer: "layers.<index>.<block>" (e.g. "layers.0.weight"), its shape
// and where its elements are (layer blocks are 64-byte aligned, so slices may have gaps).
struct NamedSlice {
    std::string name;
    std::vector<std::int64_t> shape;
    std::int64_t offset = 0;  // in elements
    std::int64_t count = 0;
};

// Told by Model::backward() as soon as a layer's parameter gradients are written (in the order
// of the backend's work: a device backend may still be computing them), from the last layer to
// the first, on the thread that runs backward(). For overlapping the gradient averaging with the
// rest of the backward pass (parallel/GradientAveraging).
class GradientListener {
public:
    virtual ~GradientListener() = default;
    virtual void gradientsWritten(std::size_t layer) = 0;
};

class Model {
public:
    // Builds the layers for per-sample input `inputSample`, allocates the flat buffers in
    // `location` (persistent memory, outside any workspace) and leaves parameters zeroed.
    Model(std::vector<std::unique_ptr<Layer>> layers, const Shape& inputSample, DType dtype = DType::Float32,
          MemoryLocation location = MemoryLocation::host());
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // Deterministic initialisation from a seed (host RNG, converted to the model's dtype).
    // Statistics start at each layer's initial values (running mean 0, variance 1).
    void initialize(std::uint64_t seed);
    void initializeStatistics();
    // Same architecture in another location / dtype with a copy of the parameters.
    std::unique_ptr<Model> replicate(MemoryLocation location) const;
    std::unique_ptr<Model> replicate(MemoryLocation location, DType dtype) const;
    // The parameters and statistics of `source` (the same architecture and dtype, any location),
    // copied byte for byte; staged through the host only when both are on devices.
    void copyBuffersFrom(const Model& source);

    // Forward through every layer; the output lives in the current workspace scope.
    Tensor forward(const Tensor& input, ExecutionContext& context);
    // Backward from the gradient of the loss w.r.t. the output; fills gradients(). `listener`, when
    // given, hears of every layer once its parameter gradients are written.
    void backward(const Tensor& gradOutput, ExecutionContext& context, GradientListener* listener = nullptr);
    void releaseCaches();

    Tensor& parameters() { return parameters_; }
    const Tensor& parameters() const { return parameters_; }
    Tensor& gradients() { return gradients_; }
    const Tensor& gradients() const { return gradients_; }
    std::int64_t parameterCount() const { return parameterCount_; }
    Tensor& statistics() { return statistics_; }
    const Tensor& statistics() const { return statistics_; }
    std::int64_t statisticsCount() const { return statisticsCount_; }
    DType dtype() const { return dtype_; }
    MemoryLocation location() const { return location_; }
    const Shape& inputSample() const { return inputSample_; }
    const Shape& outputSample() const { return outputSample_; }
    // Predictions (labels) per sample: 1 for a classifier, one per position for a language
    // model's {positions, vocabulary} output.
    std::int64_t predictionsPerSample() const {
        return outputSample_.rank() >= 2 ? outputSample_.elementCount() / outputSample_[outputSample_.rank() - 1] : 1;
    }
    // Sum of every layer's per-sample output size (for memory predictions).
    std::int64_t activationElementsPerSample() const { return activationElements_; }
    // Sum of every layer's forward working memory per sample (convolutions), in elements.
    std::int64_t workingElementsPerSample() const { return workingElements_; }
    // The bytes of each allocation forward() or backward() makes from the current workspace scope
    // for `batch` samples, in order (Layer::workspaceRequests; the loss's gradient, which backward()
    // is given, is not included). For memory predictions.
    std::vector<std::size_t> workspaceRequests(PassQuery::Kind kind, std::int64_t batch, kernels::Backend& backend) const;
    std::size_t layerCount() const { return layers_.size(); }
    Layer& layer(std::size_t index) { return *layers_[index]; }
    std::int64_t parameterOffset(std::size_t layer) const { return offsets_[layer]; }
    // Every layer's parameter and statistics blocks, in buffer order.
    std::vector<NamedSlice> parameterSlices() const;
    std::vector<NamedSlice> statisticsSlices() const;
    // The [begin, end) element ranges of the weight matrices (blocks named "...weight" of rank >= 2:
    // dense, attention and convolution weights; not biases, gains or embeddings), in buffer order:
    // where AdamW's weight decay applies.
    std::vector<std::pair<std::int64_t, std::int64_t>> weightMatrixRanges() const;
    // "input[1,28,28] | dense(784->256,relu) | dense(256->10,identity)"
    std::string describe() const;

    // Host copies of the flat parameters (double for tests, raw dtype bytes for checkpoints).
    std::vector<double> parametersToHost() const;
    void parametersFromHost(const std::vector<double>& values);
    std::vector<double> statisticsToHost() const;
    void statisticsFromHost(const std::vector<double>& values);

private:
    std::vector<std::unique_ptr<Layer>> layers_;
    std::vector<std::int64_t> offsets_;
    Shape inputSample_;
    Shape outputSample_;
    DType dtype_;
    MemoryLocation location_;
    std::int64_t parameterCount_ = 0;
    std::int64_t statisticsCount_ = 0;
    std::vector<std::int64_t> statisticsOffsets_;
    std::int64_t activationElements_ = 0;
    std::int64_t workingElements_ = 0;
    Tensor parameters_;
    Tensor gradients_;
    Tensor statistics_;
};

}  // namespace cohort::nn
