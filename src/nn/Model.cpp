#include "src/nn/Model.h"

#include <random>
#include <stdexcept>

#include "kernels/SeedMixing.h"

namespace cohort::nn {
namespace {

// Each layer's block starts on a 64-byte boundary so vectorised kernels see aligned slices.
constexpr std::int64_t kAlignmentElements = 16;

std::int64_t alignUp(std::int64_t value) {
    return (value + kAlignmentElements - 1) / kAlignmentElements * kAlignmentElements;
}

std::vector<double> tensorToHost(const Tensor& tensor) {
    std::vector<double> values(static_cast<std::size_t>(tensor.elementCount()));
    if (values.empty()) return values;
    if (tensor.dtype() == DType::Float64) {
        tensor.copyToHost(values.data(), tensor.byteCount());
    } else {
        std::vector<float> narrow(values.size());
        tensor.copyToHost(narrow.data(), tensor.byteCount());
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = narrow[i];
    }
    return values;
}

// `from`'s bytes into `to` (same size); a host side is read or written in place.
void copyBytes(const Tensor& from, Tensor& to) {
    if (from.byteCount() != to.byteCount()) {
        throw std::invalid_argument("copyBuffersFrom: " + std::to_string(from.byteCount()) + " bytes for a buffer of " +
                                    std::to_string(to.byteCount()));
    }
    if (from.byteCount() == 0) return;
    if (!from.location().isDevice()) {
        to.copyFromHost(from.raw(), from.byteCount());
    } else if (!to.location().isDevice()) {
        from.copyToHost(to.raw(), to.byteCount());
    } else {
        std::vector<unsigned char> bytes(from.byteCount());
        from.copyToHost(bytes.data(), bytes.size());
        to.copyFromHost(bytes.data(), bytes.size());
    }
}

void tensorFromHost(Tensor& tensor, const std::vector<double>& values, const char* what) {
    if (values.size() != std::size_t(tensor.elementCount())) {
        throw std::invalid_argument(std::string(what) + "FromHost: " + std::to_string(values.size()) + " values for " +
                                    std::to_string(tensor.elementCount()) + " " + what);
    }
    if (values.empty()) return;
    if (tensor.dtype() == DType::Float64) {
        tensor.copyFromHost(values.data(), tensor.byteCount());
    } else {
        std::vector<float> narrow(values.begin(), values.end());
        tensor.copyFromHost(narrow.data(), tensor.byteCount());
    }
}

}  // namespace

Model::Model(std::vector<std::unique_ptr<Layer>> layers, const Shape& inputSample, DType dtype,
             MemoryLocation location)
    : layers_(std::move(layers)), inputSample_(inputSample), dtype_(dtype), location_(location) {
    if (layers_.empty()) throw std::invalid_argument("a model needs at least one layer");
    Shape shape = inputSample;
    for (auto& layer : layers_) {
        layer->configure(shape);
        offsets_.push_back(parameterCount_);
        parameterCount_ += alignUp(layer->parameterCount());
        statisticsOffsets_.push_back(statisticsCount_);
        statisticsCount_ += alignUp(layer->statisticsCount());
        shape = layer->outputShape(shape);
        activationElements_ += shape.elementCount();
        workingElements_ += layer->workingElementsPerSample();
    }
    outputSample_ = shape;
    for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
        if (layers_[i]->reluOnOutput() && layers_[i + 1]->foldsProducerRelu()) {
            layers_[i + 1]->foldProducerRelu();
            layers_[i]->leaveReluGradientToNext();
        }
    }
    // Parameters and gradients are persistent: owned system memory, never in a workspace.
    parameters_ = Tensor::persistent(Shape{parameterCount_}, dtype_, location_);
    gradients_ = Tensor::persistent(Shape{parameterCount_}, dtype_, location_);
    statistics_ = Tensor::persistent(Shape{statisticsCount_}, dtype_, location_);
    auto& backend = defaultBackendFor(location_);
    backend.fill(dtype_, parameterCount_, 0.0, parameters_.raw());
    backend.fill(dtype_, parameterCount_, 0.0, gradients_.raw());
    const std::size_t element = kernels::sizeOf(dtype_);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        const std::size_t offset = std::size_t(offsets_[i]) * element;
        layers_[i]->bindParameters(static_cast<char*>(parameters_.raw()) + offset,
                                   static_cast<char*>(gradients_.raw()) + offset);
        if (layers_[i]->statisticsCount() > 0) {
            layers_[i]->bindStatistics(static_cast<char*>(statistics_.raw()) + std::size_t(statisticsOffsets_[i]) * element);
        }
    }
    for (auto& layer : layers_) layer->bindShared(layers_);
    initializeStatistics();
}

void Model::initializeStatistics() {
    if (statisticsCount_ == 0) return;
    std::vector<double> host(std::size_t(statisticsCount_), 0.0);
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->initializeStatistics(host.data() + statisticsOffsets_[i]);
    statisticsFromHost(host);
}

void Model::initialize(std::uint64_t seed) {
    std::vector<double> host(std::size_t(parameterCount_), 0.0);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        // One generator per layer keyed by its index: adding a layer does not reshuffle others.
        std::mt19937_64 generator(kernels::deriveSeed(seed, i));
        layers_[i]->initializeParameters(host.data() + offsets_[i], generator);
    }
    parametersFromHost(host);
    initializeStatistics();
}

std::unique_ptr<Model> Model::replicate(MemoryLocation location) const { return replicate(location, dtype_); }

std::unique_ptr<Model> Model::replicate(MemoryLocation location, DType dtype) const {
    std::vector<std::unique_ptr<Layer>> layers;
    for (const auto& layer : layers_) layers.push_back(layer->clone());
    auto copy = std::make_unique<Model>(std::move(layers), inputSample_, dtype, location);
    if (dtype == dtype_) {
        copy->copyBuffersFrom(*this);
    } else {
        copy->parametersFromHost(parametersToHost());
        copy->statisticsFromHost(statisticsToHost());
    }
    return copy;
}

void Model::copyBuffersFrom(const Model& source) {
    if (source.dtype_ != dtype_) throw std::invalid_argument("copyBuffersFrom: the models' dtypes differ");
    copyBytes(source.parameters_, parameters_);
    copyBytes(source.statistics_, statistics_);
}

Tensor Model::forward(const Tensor& input, ExecutionContext& context) {
    Tensor activation = input;
    ExecutionContext layerContext = context;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        layerContext.seed = kernels::deriveSeed(context.seed, i);
        activation = layers_[i]->forward(activation, layerContext);
    }
    return activation;
}

void Model::backward(const Tensor& gradOutput, ExecutionContext& context, GradientListener* listener) {
    Tensor gradient = gradOutput;
    for (std::size_t i = layers_.size(); i-- > 0;) {
        gradient = layers_[i]->backward(gradient, context, i > 0);
        if (listener) listener->gradientsWritten(i);
    }
}

std::vector<std::size_t> Model::workspaceRequests(PassQuery::Kind kind, std::int64_t batch, kernels::Backend& backend) const {
    std::vector<Shape> inputs;  // each layer's per-sample input
    Shape shape = inputSample_;
    for (const auto& layer : layers_) {
        inputs.push_back(shape);
        shape = layer->outputShape(shape);
    }
    std::vector<std::size_t> bytes;
    PassQuery query{kind, batch, dtype_, true, &backend};
    if (kind != PassQuery::Kind::Backward) {
        for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->workspaceRequests(inputs[i], query, bytes);
        return bytes;
    }
    for (std::size_t i = layers_.size(); i-- > 0;) {  // as backward() walks them
        query.needInputGradient = i > 0;
        layers_[i]->workspaceRequests(inputs[i], query, bytes);
    }
    return bytes;
}

void Model::releaseCaches() {
    for (auto& layer : layers_) layer->releaseCache();
}

std::string Model::describe() const {
    std::string text = "input" + inputSample_.toString();
    for (const auto& layer : layers_) text += " | " + layer->describe();
    return text;
}

std::vector<double> Model::parametersToHost() const { return tensorToHost(parameters_); }
void Model::parametersFromHost(const std::vector<double>& values) { tensorFromHost(parameters_, values, "parameters"); }
std::vector<double> Model::statisticsToHost() const { return tensorToHost(statistics_); }
void Model::statisticsFromHost(const std::vector<double>& values) { tensorFromHost(statistics_, values, "statistics"); }

namespace {

std::vector<NamedSlice> slicesOf(const std::vector<std::unique_ptr<Layer>>& layers, const std::vector<std::int64_t>& offsets,
                                 bool statistics) {
    std::vector<NamedSlice> slices;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        std::int64_t offset = offsets[i];
        for (const ParameterBlock& block : statistics ? layers[i]->statisticsBlocks() : layers[i]->parameterBlocks()) {
            NamedSlice slice{"layers." + std::to_string(i) + "." + block.name, block.shape, offset, 1};
            for (std::int64_t extent : block.shape) slice.count *= extent;
            offset += slice.count;
            slices.push_back(std::move(slice));
        }
    }
    return slices;
}

}  // namespace

std::vector<NamedSlice> Model::parameterSlices() const { return slicesOf(layers_, offsets_, false); }
std::vector<NamedSlice> Model::statisticsSlices() const { return slicesOf(layers_, statisticsOffsets_, true); }

std::vector<std::pair<std::int64_t, std::int64_t>> Model::weightMatrixRanges() const {
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
    const std::string suffix = "weight";
    for (const NamedSlice& slice : parameterSlices()) {
        const bool weight = slice.name.size() >= suffix.size() &&
                            slice.name.compare(slice.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        if (weight && slice.shape.size() >= 2) ranges.emplace_back(slice.offset, slice.offset + slice.count);
    }
    return ranges;
}

}  // namespace cohort::nn
