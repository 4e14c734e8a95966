#pragma once
// Layer: one stage of a sequential model.
//
// A layer's parameters are a slice of its model's flat parameter buffer and its gradients the
// matching slice of the flat gradient buffer (bindParameters). forward() allocates its output in
// the current workspace scope and keeps what backward() needs; backward() overwrites the layer's
// parameter gradients and returns the gradient with respect to its input (or an empty tensor
// when the context says the input gradient is not needed).
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "src/tensor/Tensor.h"

namespace cohort::nn {

struct ExecutionContext {
    kernels::Backend* backend = nullptr;
    bool training = true;
    std::uint64_t seed = 0;       // base seed for stochastic layers (dropout)
    std::uint64_t iteration = 0;  // global iteration, so masks differ per step yet are reproducible
    // When set: one uint64 in the backend's memory that holds `iteration` while the step runs.
    // Layers that depend on the iteration read it there instead, so a captured step (CUDA
    // graph) replays correctly for later iterations.
    const std::uint64_t* stepCounter = nullptr;
};

// Bytes of a [batch, sample...] tensor of `dtype`, saturating (for memory predictions).
std::size_t batchBytes(const Shape& sample, std::int64_t batch, DType dtype);

// Throws InputError "<layer> expects N inputs per sample, got M" unless each sample of `input`
// (everything after the batch dimension) has `expected` elements.
void requireSampleSize(const Tensor& input, std::int64_t expected, const char* layer);

// A pass over a layer, for memory predictions: which one, for how many samples.
struct PassQuery {
    enum class Kind : std::uint8_t { TrainingForward, Backward, InferenceForward };
    Kind kind = Kind::TrainingForward;
    std::int64_t batch = 0;
    DType dtype = DType::Float32;
    bool needInputGradient = true;        // Backward: as backward() is called
    kernels::Backend* backend = nullptr;  // answers a convolution's working memory
};

// A named piece of a layer's parameters or statistics, in order: its shape's elements follow
// the previous block's (e.g. a dense layer's "weight" [inputs, outputs] then "bias" [outputs]).
struct ParameterBlock {
    std::string name;
    std::vector<std::int64_t> shape;
};

class Layer {
public:
    virtual ~Layer() = default;
    // "dense(784->256, relu)": stable text, part of the model description (hashes, checkpoints).
    virtual std::string describe() const = 0;
    // Per-sample output shape for a per-sample input shape; throws InputError on mismatch.
    virtual Shape outputShape(const Shape& inputSample) const = 0;
    // Called once with the per-sample input shape before parameterCount()/bindParameters().
    virtual void configure(const Shape& inputSample) { (void)inputSample; }
    virtual std::int64_t parameterCount() const { return 0; }
    // Views into the flat buffers (in the model's location), parameterCount() elements each.
    virtual void bindParameters(void* parameters, void* gradients) { (void)parameters; (void)gradients; }
    // Writes initial values for this layer's parameters into host memory (double precision;
    // the model converts and copies them).
    virtual void initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
        (void)hostParameters; (void)generator;
    }
    // Non-trainable state (batch norm's running statistics): a slice of the model's flat
    // statistics buffer, never touched by the optimizer, averaged across replicas like the
    // parameters and copied with them.
    virtual std::int64_t statisticsCount() const { return 0; }
    virtual void bindStatistics(void* statistics) { (void)statistics; }
    virtual void initializeStatistics(double* hostStatistics) const { (void)hostStatistics; }
    // The names and shapes inside the parameter and statistics slices (checkpoints name tensors
    // by them). The default is one block of the whole slice.
    virtual std::vector<ParameterBlock> parameterBlocks() const;
    virtual std::vector<ParameterBlock> statisticsBlocks() const;
    // Working memory a forward pass takes from the workspace per sample beyond its output, in
    // elements (a convolution's lowered input; 0 for most layers). For memory predictions.
    virtual std::int64_t workingElementsPerSample() const { return 0; }
    // The bytes of each allocation `query`'s pass makes from the current workspace scope, for
    // per-sample input `inputSample`, appended to `bytes` in order. The default is a layer that
    // allocates its output forward and, when asked for, its input gradient backward; a layer
    // that allocates otherwise says so next to its forward()/backward() (tests hold every layer's
    // answer to what its passes take from a workspace).
    virtual void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const;
    virtual Tensor forward(const Tensor& input, ExecutionContext& context) = 0;
    virtual Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) = 0;
    // forward(input) + addend, the sum written into forward's own output (a residual block's last
    // layer, when the block may sum in place: Residual::sumsInPlace). By default forward, then one
    // addition; a dense layer folds the addend into its output pass.
    virtual Tensor forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context);
    // Whether backward() reads the tensor forward() returned (so a caller must not write into it):
    // a dense layer's activation derivative does; most layers keep their input, not their output.
    virtual bool readsOutputInBackward() const { return true; }
    // Whether backward() returns a tensor of its own as the input gradient (not its argument or a
    // view of it). Layers that reshape or pass gradients through say false.
    virtual bool makesFreshInputGradient() const { return false; }
    // Called by Model once every layer is bound, for a layer that uses another's parameters (a
    // language model's head tied to its embedding); throws InputError when the model cannot.
    virtual void bindShared(std::vector<std::unique_ptr<Layer>>& layers) { (void)layers; }
    // Fresh, unbound layer of the same configuration (for worker replicas).
    virtual std::unique_ptr<Layer> clone() const = 0;
    // Drops references to tensors kept between forward and backward.
    virtual void releaseCache() {}

    // Fusion across a layer boundary, set up by Model: a layer whose output went through a ReLU
    // (reluOnOutput) may leave the ReLU's derivative to the next layer's backward pass when that
    // layer folds it into its own input gradient (foldsProducerRelu: pooling, whose input is the
    // ReLU's output, so "dx = x > 0 ? dx : 0" is exactly the ReLU's backward). One pass over the
    // largest gradient of a convolutional network is saved; the arithmetic is the same.
    virtual bool reluOnOutput() const { return false; }
    virtual void leaveReluGradientToNext() {}
    virtual bool foldsProducerRelu() const { return false; }
    virtual void foldProducerRelu() {}
};

}  // namespace cohort::nn
