#include "src/train/Evaluation.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "src/data/BatchIterator.h"

namespace cohort::train {

std::string EvaluationResult::confusionTable() const {
    if (confusion.empty()) return "";
    std::string text = "true\\pred";
    char cell[32];
    for (int c = 0; c < classes; ++c) {
        std::snprintf(cell, sizeof cell, "%7d", c);
        text += cell;
    }
    text += "\n";
    for (int r = 0; r < classes; ++r) {
        std::snprintf(cell, sizeof cell, "%9d", r);
        text += cell;
        for (int c = 0; c < classes; ++c) {
            std::snprintf(cell, sizeof cell, "%7lld", static_cast<long long>(confusion[std::size_t(r * classes + c)]));
            text += cell;
        }
        text += "\n";
    }
    return text;
}

memory::MemoryDemand Evaluator::memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t batchSize,
                                          WorkspaceMode mode, const data::Dataset& dataset, kernels::Backend& backend) {
    const std::int64_t predictions = model.predictionsPerSample();
    const std::int64_t classes = model.outputSample().elementCount() / predictions;
    const std::int64_t rows = std::clamp<std::int64_t>(std::int64_t(dataset.count), 1, batchSize);  // the largest batch evaluate() runs
    memory::MemoryDemand demand = BatchStager::memoryFor(model, location, batchSize);
    demand.charge(MemoryLocation::host(), std::int64_t(nn::batchBytes(model.inputSample(), batchSize, DType::Float32)));  // hostInput_
    demand.charge(location, std::int64_t(nn::batchBytes(Shape{1}, 1, model.dtype())));  // lossSlot_
    demand.charge(location, std::int64_t(nn::batchBytes(Shape{1}, 1, DType::Float64)));  // correctSlot_
    addWorkspaceMemory(demand, activationsWorkspaceConfig(location),
                       model.workspaceRequests(nn::PassQuery::Kind::InferenceForward, rows, backend), mode);
    demand.outsideBudget(std::int64_t(nn::batchBytes(Shape{predictions}, batchSize, DType::Float32)));  // hostLabels_
    demand.outsideBudget(std::int64_t(nn::batchBytes(Shape{1}, std::int64_t(dataset.count), DType::Float32)));  // order
    if (predictions > 1) return demand;  // a language model: no logits on the host, no confusion matrix
    demand.outsideBudget(std::int64_t(nn::batchBytes(Shape{classes}, batchSize, DType::Float32)));  // hostLogits_
    if (model.dtype() == DType::Float64) demand.outsideBudget(std::int64_t(nn::batchBytes(Shape{classes}, rows, DType::Float64)));
    demand.outsideBudget(std::int64_t(nn::batchBytes(Shape{classes}, classes, DType::Float64)));  // the confusion matrix
    return demand;
}

Evaluator::Evaluator(nn::Model& model, kernels::Backend& backend, std::int64_t batchSize, WorkspaceMode mode)
    : model_(model), backend_(backend), batchSize_(batchSize), mode_(mode),
      hostInput_(Tensor::persistent(model.inputSample().withBatch(batchSize), DType::Float32, MemoryLocation::host())),
      hostLabels_(static_cast<std::size_t>(batchSize * model.predictionsPerSample())),
      stager_(model, batchSize) {
    lossSlot_ = Tensor::persistent(Shape{1}, model.dtype(), model.location());
    correctSlot_ = Tensor::persistent(Shape{1}, DType::Float64, model.location());
}

EvaluationResult Evaluator::evaluate(const data::Dataset& dataset) {
    EvaluationResult result;
    const std::int64_t predictions = model_.predictionsPerSample();
    const std::int64_t classes = model_.outputSample().elementCount() / predictions;
    result.classes = int(classes);
    // A classifier's confusion matrix; a language model (one prediction per token) counts the
    // tokens predicted right on the backend instead.
    const bool confusion = predictions == 1;
    if (confusion) result.confusion.assign(std::size_t(classes * classes), 0);
    std::vector<std::uint32_t> order(dataset.count);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = std::uint32_t(i);
    data::BatchIterator iterator(dataset, order, std::size_t(batchSize_));
    data::Batch batch{0, hostInput_.data<float>(), hostLabels_.data()};
    if (confusion) hostLogits_.resize(std::size_t(batchSize_ * classes));
    double lossSum = 0.0;
    std::int64_t correct = 0;
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    nn::ExecutionContext context{&backend_, false, 0, 0};
    while (iterator.next(batch)) {
        const auto rows = std::int64_t(batch.size);
        const StagedBatch staged = stager_.stage(backend_, batch.features, batch.labels, rows);
        memory::WorkspaceScope scope = mode_ == WorkspaceMode::Enabled
                                           ? manager.getAndActivateWorkspace(activationsWorkspaceConfig(model_.location()), kInferenceWorkspace)
                                           : manager.scopeOutOfWorkspaces();
        Tensor logits = model_.forward(staged.input, context);
        backend_.softmaxCrossEntropy(model_.dtype(), rows * predictions, classes, logits.raw(), staged.labels, lossSlot_.raw(),
                                     nullptr, 1.0, reinterpret_cast<std::int64_t*>(correctSlot_.raw()));
        lossSum += readLoss();
        if (confusion) {
            countPredictions(logits, rows, classes, result);
        } else {
            std::int64_t right = 0;
            backend_.copyToHost(sizeof right, correctSlot_.raw(), &right);
            correct += right;
        }
        result.samples += rows * predictions;
    }
    for (std::int64_t c = 0; confusion && c < classes; ++c) correct += result.confusion[std::size_t(c * classes + c)];
    result.loss = result.samples ? lossSum / double(result.samples) : 0.0;
    result.accuracy = result.samples ? double(correct) / double(result.samples) : 0.0;
    return result;
}

double Evaluator::readLoss() {
    if (model_.dtype() == DType::Float64) {
        double loss = 0.0;
        backend_.copyToHost(sizeof(double), lossSlot_.raw(), &loss);
        return loss;
    }
    float loss = 0.0f;
    backend_.copyToHost(sizeof(float), lossSlot_.raw(), &loss);
    return loss;
}

// The batch's argmax per row into the confusion matrix.
void Evaluator::countPredictions(const Tensor& logits, std::int64_t rows, std::int64_t classes, EvaluationResult& result) {
    const std::size_t logitCount = std::size_t(rows * classes);
    if (model_.dtype() == DType::Float64) {
        wideLogits_.resize(logitCount);
        backend_.copyToHost(logitCount * sizeof(double), logits.raw(), wideLogits_.data());
        for (std::size_t i = 0; i < logitCount; ++i) hostLogits_[i] = float(wideLogits_[i]);
    } else {
        backend_.copyToHost(logitCount * sizeof(float), logits.raw(), hostLogits_.data());
    }
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* row = hostLogits_.data() + r * classes;
        const auto predicted = std::int64_t(std::max_element(row, row + classes) - row);
        ++result.confusion[std::size_t(hostLabels_[std::size_t(r)] * classes + predicted)];
    }
}

}  // namespace cohort::train
