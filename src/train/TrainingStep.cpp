#include "src/train/TrainingStep.h"

#include <cmath>
#include <vector>

#include "src/core/Errors.h"

namespace cohort::train {

WorkspaceMode parseWorkspaceMode(const std::string& text) {
    if (text == "enabled") return WorkspaceMode::Enabled;
    if (text == "none") return WorkspaceMode::None;
    throw InputError("unknown --workspace-mode '" + text + "'; choose enabled or none");
}

memory::WorkspaceConfig activationsWorkspaceConfig() {
    memory::WorkspaceConfig config;
    config.policyLearning = memory::LearningPolicy::FirstLoop;
    config.policyAllocation = memory::AllocationPolicy::Overallocate;
    config.overallocationLimit = 0.1;
    // A larger batch later (or the evaluation's) grows the block once instead of spilling forever.
    config.policySpill = memory::SpillPolicy::Reallocate;
    config.policyReset = memory::ResetPolicy::BlockLeft;
    return config;
}

TrainingStep::TrainingStep(nn::Model& model, optim::Optimizer& optimizer, nn::Loss& loss,
                           kernels::Backend& backend, WorkspaceMode mode, std::uint64_t seed)
    : model_(model), optimizer_(optimizer), loss_(loss), backend_(backend), mode_(mode), seed_(seed) {
    lossSlots_ = Tensor::persistent(Shape{kSlots}, model.dtype(), model.location());
    correctSlots_ = Tensor::persistent(Shape{kSlots}, DType::Float64, model.location());
    hostLosses32_.resize(kSlots);
    hostLosses64_.resize(kSlots);
    hostCorrect_.resize(kSlots);
}

void TrainingStep::computeGradients(const Tensor& input, const std::int32_t* labels, std::int64_t batch) {
    if (slotsUsed_ == kSlots) flushSlots();
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    nn::ExecutionContext context{&backend_, true, seed_, std::uint64_t(iteration_)};
    const std::size_t element = kernels::sizeOf(model_.dtype());
    void* lossSlot = static_cast<char*>(lossSlots_.raw()) + std::size_t(slotsUsed_) * element;
    auto* correctSlot = reinterpret_cast<std::int64_t*>(correctSlots_.raw()) + slotsUsed_;
    const Tensor batchInput = input.dim(0) == batch ? input : input.slice(0, batch);

    auto body = [&](bool nested) {
        Tensor output = model_.forward(batchInput, context);
        memory::WorkspaceScope gradients;
        if (nested) gradients = manager.getAndActivateWorkspace(activationsWorkspaceConfig(), kGradientsWorkspace);
        Tensor gradOutput;
        loss_.compute(output, labels, Tensor(), context, lossSlot, &gradOutput, correctSlot);
        model_.backward(gradOutput, context);
        model_.releaseCaches();
    };
    if (mode_ == WorkspaceMode::Enabled) {
        memory::WorkspaceScope activations =
            manager.getAndActivateWorkspace(activationsWorkspaceConfig(), kActivationsWorkspace);
        body(true);
    } else {
        memory::WorkspaceScope outside = manager.scopeOutOfWorkspaces();
        body(false);
    }
    ++slotsUsed_;
    pendingSamples_ += batch;
    ++iteration_;
}

void TrainingStep::applyUpdate(double learningRate) {
    optimizer_.step(backend_, model_.parameters(), model_.gradients(), learningRate);
}

void TrainingStep::flushSlots() {
    if (slotsUsed_ == 0) return;
    const auto used = static_cast<std::size_t>(slotsUsed_);
    if (model_.dtype() == DType::Float32) {
        backend_.copyToHost(used * sizeof(float), lossSlots_.raw(), hostLosses32_.data());
        for (std::size_t i = 0; i < used; ++i) hostLosses64_[i] = hostLosses32_[i];
    } else {
        backend_.copyToHost(used * sizeof(double), lossSlots_.raw(), hostLosses64_.data());
    }
    backend_.copyToHost(used * sizeof(std::int64_t), correctSlots_.raw(), hostCorrect_.data());
    for (std::size_t i = 0; i < used; ++i) {
        pending_.lossSum += hostLosses64_[i];
        pending_.correct += hostCorrect_[i];
    }
    pending_.steps += slotsUsed_;
    pending_.samples += pendingSamples_;
    pendingSamples_ = 0;
    slotsUsed_ = 0;
}

StepStatistics TrainingStep::takeStatistics() {
    backend_.synchronize();
    flushSlots();
    StepStatistics result = pending_;
    pending_ = {};
    if (!std::isfinite(result.lossSum)) {
        throw DivergenceError("training diverged: the loss became " +
                              std::string(std::isnan(result.lossSum) ? "NaN" : "infinite") + " by iteration " +
                              std::to_string(iteration_) + "; lower --lr or check the data");
    }
    return result;
}

}  // namespace cohort::train
