#include "src/train/TrainingStep.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <vector>

#include "src/core/Errors.h"

namespace cohort::train {

memory::WorkspaceConfig activationsWorkspaceConfig(memory::MemoryLocation location) {
    memory::WorkspaceConfig config;
    config.location = location;
    config.policyLearning = memory::LearningPolicy::FirstLoop;
    config.policyAllocation = memory::AllocationPolicy::Overallocate;
    config.overallocationLimit = 0.1;
    // A larger batch later (or the evaluation's) grows the block once instead of spilling forever.
    config.policySpill = memory::SpillPolicy::Reallocate;
    config.policyReset = memory::ResetPolicy::BlockLeft;
    return config;
}

void addWorkspaceMemory(memory::MemoryDemand& demand, const memory::WorkspaceConfig& config,
                        const std::vector<std::size_t>& requests, WorkspaceMode mode) {
    constexpr std::size_t kLargest = std::size_t(std::numeric_limits<std::int64_t>::max());
    std::int64_t cycle = 0;
    for (const std::size_t request : requests) {
        const std::size_t bytes = mode == WorkspaceMode::Enabled ? memory::workspaceRequestBytes(config, request) : request;
        cycle = memory::saturatingAdd(cycle, std::int64_t(std::min(bytes, kLargest)));
    }
    if (mode != WorkspaceMode::Enabled) {
        demand.charge(config.location, cycle);  // every tensor from the system allocator, freed with the pass
        return;
    }
    demand.charge(config.location, std::int64_t(std::min(memory::workspaceHeldBytes(config, std::size_t(cycle)), kLargest)));
}

memory::MemoryDemand TrainingStep::memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t batch,
                                             WorkspaceMode mode, bool capture, kernels::Backend& backend) {
    using Kind = nn::PassQuery::Kind;
    memory::MemoryDemand demand;
    demand.charge(location, std::int64_t(nn::batchBytes(Shape{2 * (kSlots + 2)}, 1, DType::Float64)));  // records_
    demand.outsideBudget(std::int64_t(kSlots * kRecordBytes));                                         // hostRecords_
    const memory::WorkspaceConfig config = activationsWorkspaceConfig(location);
    std::vector<std::size_t> backward{nn::batchBytes(model.outputSample(), batch, model.dtype())};  // the loss's gradient
    for (const std::size_t bytes : model.workspaceRequests(Kind::Backward, batch, backend)) backward.push_back(bytes);
    addWorkspaceMemory(demand, config, model.workspaceRequests(Kind::TrainingForward, batch, backend), mode);
    addWorkspaceMemory(demand, config, backward, mode);
    if (capture && mode == WorkspaceMode::Enabled) {
        demand.charge(location, std::int64_t(nn::batchBytes(Shape{1}, 1, DType::Float64)));  // stepCounter_
        demand.charge(location.isDevice() ? memory::MemoryLocation::pinnedHost() : location,
                      std::int64_t(nn::batchBytes(Shape{kSlots}, 1, DType::Float64)));  // counterValues_
        demand.charge(location, std::int64_t(nn::batchBytes(model.inputSample(), batch, model.dtype())));  // fixedInput_
        demand.charge(location, std::int64_t(nn::batchBytes(Shape{model.predictionsPerSample()}, batch, DType::Float32)));  // fixedLabels_
    }
    return demand;
}

TrainingStep::TrainingStep(nn::Model& model, optim::Optimizer& optimizer, nn::Loss& loss,
                           kernels::Backend& backend, WorkspaceMode mode, std::uint64_t seed)
    : model_(model), optimizer_(optimizer), loss_(loss), backend_(backend), mode_(mode), seed_(seed) {
    static_assert(kRecordBytes == 2 * sizeof(double), "a record is two float64 elements");
    records_ = Tensor::persistent(Shape{2 * (kSlots + 2)}, DType::Float64, model.location());
    hostRecords_.resize(std::size_t(kSlots) * kRecordBytes);
}

void TrainingStep::setCapture(bool enabled) {
    captureEnabled_ = enabled;
    if (!enabled) captured_.reset();
}

bool TrainingStep::captureActive() const {
    return captureEnabled_ && captureAbandoned_.empty() && mode_ == WorkspaceMode::Enabled && backend_.canCapture();
}

void* TrainingStep::record(std::int64_t index) const {
    return static_cast<char*>(records_.raw()) + std::size_t(index) * kRecordBytes;
}

void TrainingStep::computeGradients(const Tensor& input, const std::int32_t* labels, std::int64_t batch) {
    if (slotsUsed_ >= recordBatch_) flushSlots();
    const Tensor batchInput = input.dim(0) == batch ? input : input.slice(0, batch);
    if (captureActive()) {
        computeCaptured(batchInput, labels, batch);
    } else {
        runBody(batchInput, labels, record(slotsUsed_));
    }
    ++slotsUsed_;
    pendingSamples_ += batch * model_.predictionsPerSample();  // predictions: tokens for a language model
    ++iteration_;
    if (clipNorm_ > 0.0 && !clipDeferred_) clipGradients();
}

double TrainingStep::clipGradients() {
    if (clipNorm_ <= 0.0) return 0.0;
    const DType dtype = model_.dtype();
    void* slot = record(kSlots + 1);
    void* gradients = model_.gradients().raw();
    backend_.sumOfSquares(dtype, model_.parameterCount(), gradients, slot);
    double squares = 0.0;
    if (dtype == DType::Float32) {
        float single = 0.0f;
        backend_.copyToHost(sizeof single, slot, &single);
        squares = single;
    } else {
        backend_.copyToHost(sizeof squares, slot, &squares);
    }
    // As torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is below 1.
    const double norm = std::sqrt(squares);
    const double scale = clipNorm_ / (norm + 1e-6);
    if (scale < 1.0) backend_.axpby(dtype, model_.parameterCount(), 0.0, gradients, scale, gradients);
    return norm;
}

void TrainingStep::runBody(const Tensor& input, const std::int32_t* labels, void* slot, bool recording) {
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    nn::ExecutionContext context{&backend_, true, seed_, std::uint64_t(iteration_)};
    if (captureActive() && stepCounter_.raw()) context.stepCounter = static_cast<const std::uint64_t*>(stepCounter_.raw());
    auto* correctSlot = reinterpret_cast<std::int64_t*>(static_cast<char*>(slot) + sizeof(double));

    auto body = [&](bool nested) {
        Tensor output = model_.forward(input, context);
        memory::WorkspaceScope gradients;
        if (nested) gradients = manager.getAndActivateWorkspace(activationsWorkspaceConfig(model_.location()), kGradientsWorkspace);
        Tensor gradOutput;
        loss_.compute(output, labels, Tensor(), context, slot, &gradOutput, correctSlot);
        model_.backward(gradOutput, context, recording ? nullptr : gradientListener_);
        model_.releaseCaches();
    };
    if (mode_ == WorkspaceMode::Enabled) {
        memory::WorkspaceScope activations =
            manager.getAndActivateWorkspace(activationsWorkspaceConfig(model_.location()), kActivationsWorkspace);
        body(true);
    } else {
        memory::WorkspaceScope outside = manager.scopeOutOfWorkspaces();
        body(false);
    }
}

TrainingStep::MemorySignature TrainingStep::signature() const {
    const auto& manager = memory::WorkspaceManager::forCurrentThread();
    MemorySignature result;
    if (const memory::Workspace* activations = manager.find(kActivationsWorkspace)) {
        result.activations = activations->placement();
    }
    if (const memory::Workspace* gradients = manager.find(kGradientsWorkspace)) result.gradients = gradients->placement();
    result.input = fixedInput_.raw();
    result.backendScratch = backend_.scratchGeneration();
    return result;
}

void TrainingStep::stageFixedInputs(const Tensor& input, const std::int32_t* labels, std::int64_t batch) {
    if (!fixedInput_.raw() || fixedInput_.dim(0) < batch || fixedInput_.dtype() != input.dtype() ||
        fixedInput_.shape().innerCount() != input.shape().innerCount()) {
        captured_.reset();  // it reads the old buffers
        fixedInput_ = Tensor::persistent(input.shape(), input.dtype(), model_.location());
        fixedLabels_ = Tensor::persistent(Shape{batch * model_.predictionsPerSample()}, DType::Float32, model_.location());
    }
    backend_.copy(std::size_t(input.elementCount()) * kernels::sizeOf(input.dtype()),
                  input.checked("training step", "input"), fixedInput_.raw());
    backend_.copy(std::size_t(batch * model_.predictionsPerSample()) * sizeof(std::int32_t), labels, fixedLabels_.raw());
}

void TrainingStep::abandonCapture(const std::string& why) {
    captured_.reset();
    captureAbandoned_ = why.empty() ? std::string("the backend could not capture the step") : why;
}

void TrainingStep::computeCaptured(const Tensor& input, const std::int32_t* labels, std::int64_t batch) {
    if (!stepCounter_.raw()) {
        stepCounter_ = Tensor::persistent(Shape{1}, DType::Float64, model_.location());
        // The counter's source must stay untouched until the copy has run: one pinned value per
        // slot, reused only after flushSlots() has synchronised with the backend.
        counterValues_ = Tensor::persistent(
            Shape{kSlots}, DType::Float64,
            model_.location().isDevice() ? memory::MemoryLocation::pinnedHost() : model_.location());
    }
    auto* counterSource = static_cast<std::uint64_t*>(counterValues_.raw()) + slotsUsed_;
    *counterSource = std::uint64_t(iteration_);
    backend_.copyFromHost(sizeof(std::uint64_t), counterSource, stepCounter_.raw());

    auto replay = [&] {
        captured_->replay();
        ++replays_;
        backend_.copy(kRecordBytes, record(kSlots), record(slotsUsed_));
    };
    if (captured_ && batch == capturedBatch_) {
        stageFixedInputs(input, labels, batch);
        if (signature() == capturedSignature_) {
            replay();
            return;
        }
        captured_.reset();  // a workspace moved: record again once the memory is stable
        stableBatch_ = 0;
    }
    if (batch != stableBatch_) {
        // A normal step; the next one of this size is captured if this one left memory as it was.
        const MemorySignature before = signature();
        runBody(input, labels, record(slotsUsed_));
        stableBatch_ = signature() == before ? batch : 0;
        return;
    }

    stageFixedInputs(input, labels, batch);
    const MemorySignature before = signature();
    const Tensor fixedInput = fixedInput_.dim(0) == batch ? fixedInput_ : fixedInput_.slice(0, batch);
    std::string failure;
    const std::uint64_t allocationsBefore = memory::systemAllocationCountOnThisThread();
    backend_.beginCapture();
    try {
        runBody(fixedInput, static_cast<const std::int32_t*>(fixedLabels_.raw()), record(kSlots), true);
    } catch (const std::exception& error) {
        failure = error.what();
    }
    std::string why;
    std::unique_ptr<kernels::Backend::Captured> recording = backend_.endCapture(&why);
    if (!failure.empty()) {
        recording.reset();
        why = failure;
    } else if (recording && !(signature() == before)) {
        recording.reset();
        why = "the workspaces or the backend's scratch moved while the step was being captured";
    } else if (recording && memory::systemAllocationCountOnThisThread() != allocationsBefore) {
        // Memory from the system allocator is freed when the step ends: a recording would keep
        // addresses that no longer belong to it.
        recording.reset();
        why = "the step allocated memory outside its workspaces";
    }
    if (!recording) {
        // Nothing ran while capturing: run the step normally, and from now on always.
        abandonCapture(why);
        runBody(input, labels, record(slotsUsed_));
        return;
    }
    captured_ = std::move(recording);
    capturedBatch_ = batch;
    capturedSignature_ = before;
    replay();
}

void TrainingStep::applyUpdate(double learningRate) {
    optimizer_.step(backend_, model_.parameters(), model_.gradients(), learningRate);
}

void TrainingStep::flushSlots() {
    if (slotsUsed_ == 0) return;
    const auto used = static_cast<std::size_t>(slotsUsed_);
    backend_.copyToHost(used * kRecordBytes, records_.raw(), hostRecords_.data());
    for (std::size_t i = 0; i < used; ++i) {
        const unsigned char* entry = hostRecords_.data() + i * kRecordBytes;
        double loss = 0.0;
        if (model_.dtype() == DType::Float32) {
            float single = 0.0f;
            std::memcpy(&single, entry, sizeof single);
            pending_.lossSum += single;
            loss = single;
        } else {
            std::memcpy(&loss, entry, sizeof loss);
            pending_.lossSum += loss;
        }
        if (!std::isfinite(loss)) {
            // Step i of this read is iteration (iteration_ - used + i + 1), counted from 1.
            const std::int64_t at = iteration_ - std::int64_t(used) + std::int64_t(i) + 1;
            slotsUsed_ = 0;
            pendingSamples_ = 0;
            throw DivergenceError("training diverged: the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                                  " at iteration " + std::to_string(at) + "; lower {learningRate} or check the data");
        }
        std::int64_t correct = 0;
        std::memcpy(&correct, entry + sizeof(double), sizeof correct);
        pending_.correct += correct;
    }
    pending_.steps += slotsUsed_;
    pending_.samples += pendingSamples_;
    pendingSamples_ = 0;
    slotsUsed_ = 0;
}

StepStatistics TrainingStep::peekStatistics() {
    backend_.synchronize();
    flushSlots();
    return pending_;
}

void TrainingStep::restoreStatistics(const StepStatistics& pending) { pending_ = pending; }

void TrainingStep::setRecordBatch(std::int64_t steps) {
    if (steps < 1 || steps > kSlots) {
        throw std::invalid_argument("record batch must be 1.." + std::to_string(kSlots) + " steps, got " + std::to_string(steps));
    }
    flushSlots();
    recordBatch_ = steps;
}

StepStatistics TrainingStep::takeStatistics() {
    backend_.synchronize();
    flushSlots();
    StepStatistics result = pending_;
    pending_ = {};
    if (!std::isfinite(result.lossSum)) {
        throw DivergenceError("training diverged: the loss became " +
                              std::string(std::isnan(result.lossSum) ? "NaN" : "infinite") + " by iteration " +
                              std::to_string(iteration_) + "; lower {learningRate} or check the data");
    }
    return result;
}

}  // namespace cohort::train
