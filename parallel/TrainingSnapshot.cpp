#include "parallel/TrainingSnapshot.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "kernels/DTypeDispatch.h"
#include "src/core/JsonLimits.h"

namespace cohort::parallel {
namespace {

using Json = nlohmann::json;

Json toJson(const train::StepStatistics& statistics) {
    return {{"loss_sum", statistics.lossSum}, {"correct", statistics.correct}, {"samples", statistics.samples},
            {"steps", statistics.steps}};
}

train::StepStatistics statisticsFrom(const Json& json) {
    train::StepStatistics statistics;
    statistics.lossSum = json.at("loss_sum").get<double>();
    statistics.correct = json.at("correct").get<std::int64_t>();
    statistics.samples = json.at("samples").get<std::int64_t>();
    statistics.steps = json.at("steps").get<std::int64_t>();
    return statistics;
}

// Writes the named blocks of a flat buffer as tensors; every element between blocks (alignment
// padding) must be +0, which the layers and optimizers never change.
void addBlocks(train::CheckpointFile& file, const std::vector<unsigned char>& flat, const std::vector<nn::NamedSlice>& slices,
               std::int64_t total, kernels::DType dtype, const std::string& prefix) {
    const std::size_t element = kernels::sizeOf(dtype);
    if (flat.size() != std::size_t(total) * element) {
        throw std::logic_error("snapshot buffer '" + prefix + "' has " + std::to_string(flat.size()) + " bytes, expected " +
                               std::to_string(std::size_t(total) * element));
    }
    std::vector<bool> covered(std::size_t(total), false);
    for (const nn::NamedSlice& slice : slices) {
        train::CheckpointTensor tensor{prefix + slice.name, dtype, slice.shape, {}};
        const auto* begin = flat.data() + std::size_t(slice.offset) * element;
        tensor.bytes.assign(begin, begin + std::size_t(slice.count) * element);
        std::fill(covered.begin() + slice.offset, covered.begin() + slice.offset + slice.count, true);
        file.tensors.push_back(std::move(tensor));
    }
    for (std::size_t i = 0; i < covered.size(); ++i) {
        if (covered[i]) continue;
        for (std::size_t b = 0; b < element; ++b) {
            if (flat[i * element + b] != 0) throw std::logic_error("alignment padding of '" + prefix + "' is not zero");
        }
    }
}

std::vector<unsigned char> readBlocks(const train::CheckpointFile& file, const std::vector<nn::NamedSlice>& slices,
                                      std::int64_t total, kernels::DType dtype, const std::string& prefix,
                                      const std::string& source) {
    const std::size_t element = kernels::sizeOf(dtype);
    std::vector<unsigned char> flat(std::size_t(total) * element, 0);
    for (const nn::NamedSlice& slice : slices) {
        const std::string name = prefix + slice.name;
        const train::CheckpointTensor* tensor = file.find(name);
        if (!tensor) throw train::CheckpointError("checkpoint " + source + ": tensor '" + name + "' is missing");
        if (tensor->dtype != dtype || tensor->shape != slice.shape) {
            std::string shape;
            for (std::int64_t extent : tensor->shape) shape += (shape.empty() ? "" : ",") + std::to_string(extent);
            std::string expected;
            for (std::int64_t extent : slice.shape) expected += (expected.empty() ? "" : ",") + std::to_string(extent);
            throw train::CheckpointError("checkpoint " + source + ": tensor '" + name + "' is " + kernels::toString(tensor->dtype) +
                                         " [" + shape + "], the model needs " + kernels::toString(dtype) + " [" + expected + "]");
        }
        std::memcpy(flat.data() + std::size_t(slice.offset) * element, tensor->bytes.data(), tensor->bytes.size());
    }
    return flat;
}

// The optimizer state's slices: each segment is laid out like the parameters.
std::vector<nn::NamedSlice> segmentSlices(const nn::Model& model, const std::vector<std::string>& segments) {
    std::vector<nn::NamedSlice> slices;
    for (std::size_t s = 0; s < segments.size(); ++s) {
        for (nn::NamedSlice slice : model.parameterSlices()) {
            slice.name = segments[s] + "." + slice.name;
            slice.offset += std::int64_t(s) * model.parameterCount();
            slices.push_back(std::move(slice));
        }
    }
    return slices;
}

// "replicas.<r>.": where a replica's own copies are named.
std::string replicaPrefix(std::size_t replica) { return std::string("replicas.").append(std::to_string(replica)).append("."); }

// The element-wise mean of equally long buffers of `dtype` (empty when every copy is empty).
std::vector<unsigned char> meanOf(const std::vector<const std::vector<unsigned char>*>& copies, kernels::DType dtype) {
    if (copies.empty() || copies[0]->empty()) return {};
    std::vector<unsigned char> mean(copies[0]->size());
    for (const auto* copy : copies) {
        if (copy->size() != mean.size()) throw std::invalid_argument("the replicas' own copies differ in size");
    }
    kernels::dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const std::size_t count = mean.size() / sizeof(T);
        for (std::size_t i = 0; i < count; ++i) {
            double sum = 0.0;
            for (const auto* copy : copies) {
                T value;
                std::memcpy(&value, copy->data() + i * sizeof(T), sizeof value);
                sum += double(value);
            }
            const T average = T(sum / double(copies.size()));
            std::memcpy(mean.data() + i * sizeof(T), &average, sizeof average);
        }
    });
    return mean;
}

// `total` split into `parts` shares as evenly as whole counts allow; the loss sum follows the samples.
std::vector<train::StepStatistics> splitStatistics(const train::StepStatistics& total, int parts) {
    std::vector<train::StepStatistics> shares(static_cast<std::size_t>(parts));
    const auto share = [parts](std::int64_t value, int part) { return value / parts + (part < value % parts ? 1 : 0); };
    for (int p = 0; p < parts; ++p) {
        train::StepStatistics& mine = shares[std::size_t(p)];
        mine.samples = share(total.samples, p);
        mine.correct = share(total.correct, p);
        mine.steps = share(total.steps, p);
        mine.lossSum = total.samples > 0 ? total.lossSum * double(mine.samples) / double(total.samples)
                                         : (p == 0 ? total.lossSum : 0.0);
    }
    return shares;
}

void add(train::StepStatistics& sum, const train::StepStatistics& more) {
    sum.lossSum += more.lossSum;
    sum.correct += more.correct;
    sum.samples += more.samples;
    sum.steps += more.steps;
}

}  // namespace

TrainingSnapshot changeReplicas(TrainingSnapshot snapshot, const ReplicaChange& change) {
    const auto before = std::int64_t(snapshot.replicas.size());
    if (change.replicas < 1 || before < 1 || change.roundsAfter < 1) throw std::invalid_argument("no replicas to resume on");
    if (!change.byIteration && !snapshot.atEpochEnd) {
        const std::int64_t round = std::min(snapshot.round * before / change.replicas, change.roundsAfter - 1);
        const std::int64_t start = std::int64_t(snapshot.epoch) * change.roundsAfter + round;
        snapshot.iteration += start - (std::int64_t(snapshot.epoch) * change.roundsBefore + snapshot.round);
        snapshot.round = round;
    } else if (!change.byIteration) {
        snapshot.iteration = std::int64_t(snapshot.epoch) * change.roundsAfter;
    }
    snapshot.iteration = std::max<std::int64_t>(0, snapshot.iteration);
    std::vector<const std::vector<unsigned char>*> states, statistics;
    train::StepStatistics epoch, pending;
    for (const ReplicaProgress& replica : snapshot.replicas) {
        if (!replica.optimizerState.empty()) states.push_back(&replica.optimizerState);
        if (!replica.statistics.empty()) statistics.push_back(&replica.statistics);
        add(epoch, replica.epoch);
        add(pending, replica.pending);
    }
    if (snapshot.optimizerState.empty()) snapshot.optimizerState = meanOf(states, change.dtype);
    if (snapshot.statistics.empty()) snapshot.statistics = meanOf(statistics, change.dtype);
    const std::int64_t averagings = snapshot.replicas[0].averagings;
    const std::vector<train::StepStatistics> epochShares = splitStatistics(epoch, change.replicas);
    const std::vector<train::StepStatistics> pendingShares = splitStatistics(pending, change.replicas);
    snapshot.replicas.assign(std::size_t(change.replicas), ReplicaProgress{});
    for (std::size_t r = 0; r < snapshot.replicas.size(); ++r) {
        snapshot.replicas[r] = {epochShares[r], pendingShares[r], averagings, {}, {}};
    }
    return snapshot;
}

std::vector<std::string> optimizerSegmentNames(optim::OptimizerKind kind) {
    switch (kind) {
        case optim::OptimizerKind::Adam: return {"exp_avg", "exp_avg_sq"};
        case optim::OptimizerKind::Nesterov: return {"momentum_buffer"};
        case optim::OptimizerKind::Sgd: break;
    }
    return {};
}

train::CheckpointFile TrainingSnapshot::toCheckpoint(const nn::Model& model, const std::vector<std::string>& segments) const {
    const kernels::DType dtype = model.dtype();
    const std::int64_t stateCount = std::int64_t(segments.size()) * model.parameterCount();
    Json state = {{"epoch", epoch},
                  {"round", round},
                  {"iteration", iteration},
                  {"averaging_points", averagingPoints},
                  {"at_epoch_end", atEpochEnd},
                  {"summary",
                   {{"test_accuracy", summary.testAccuracy}, {"test_loss", summary.testLoss}, {"epochs", summary.epochs},
                    {"iterations", summary.iterations}, {"classes", summary.classes}, {"confusion", summary.confusion}}},
                  {"optimizer_state_per_replica", optimizerState.empty() && stateCount > 0},
                  {"statistics_per_replica", statistics.empty() && model.statisticsCount() > 0},
                  {"outer_velocity", !outerVelocity.empty()},
                  {"replicas", Json::array()}};
    train::CheckpointFile file;
    addBlocks(file, parameters, model.parameterSlices(), model.parameterCount(), dtype, "");
    if (!statistics.empty()) addBlocks(file, statistics, model.statisticsSlices(), model.statisticsCount(), dtype, "");
    if (!optimizerState.empty()) {
        addBlocks(file, optimizerState, segmentSlices(model, segments), stateCount, dtype, "optimizer.");
    }
    if (!outerVelocity.empty()) {
        addBlocks(file, outerVelocity, model.parameterSlices(), model.parameterCount(), dtype, "outer.velocity.");
    }
    for (std::size_t r = 0; r < replicas.size(); ++r) {
        const ReplicaProgress& replica = replicas[r];
        state["replicas"].push_back(
            {{"epoch", toJson(replica.epoch)}, {"pending", toJson(replica.pending)}, {"averagings", replica.averagings}});
        const std::string prefix = replicaPrefix(r);
        if (!replica.optimizerState.empty()) {
            addBlocks(file, replica.optimizerState, segmentSlices(model, segments), stateCount, dtype, prefix + "optimizer.");
        }
        if (!replica.statistics.empty()) {
            addBlocks(file, replica.statistics, model.statisticsSlices(), model.statisticsCount(), dtype, prefix);
        }
    }
    file.metadata["state"] = state.dump();
    return file;
}

TrainingSnapshot TrainingSnapshot::fromCheckpoint(const train::CheckpointFile& file, const nn::Model& model,
                                                  const std::vector<std::string>& segments, const std::string& source) {
    TrainingSnapshot snapshot;
    Json state;
    checkJsonNesting(file.value("state", source), "checkpoint " + source + " (its run state)");
    try {
        state = Json::parse(file.value("state", source));
        snapshot.epoch = state.at("epoch").get<int>();
        snapshot.round = state.at("round").get<std::int64_t>();
        snapshot.iteration = state.at("iteration").get<std::int64_t>();
        snapshot.averagingPoints = state.at("averaging_points").get<std::int64_t>();
        snapshot.atEpochEnd = state.at("at_epoch_end").get<bool>();
        const Json& summary = state.at("summary");
        snapshot.summary.testAccuracy = summary.at("test_accuracy").get<double>();
        snapshot.summary.testLoss = summary.at("test_loss").get<double>();
        snapshot.summary.epochs = summary.at("epochs").get<int>();
        snapshot.summary.iterations = summary.at("iterations").get<std::int64_t>();
        snapshot.summary.classes = summary.value("classes", 0);
        snapshot.summary.confusion = summary.value("confusion", std::vector<std::int64_t>{});
        for (const Json& replica : state.at("replicas")) {
            snapshot.replicas.push_back({statisticsFrom(replica.at("epoch")), statisticsFrom(replica.at("pending")),
                                         replica.at("averagings").get<std::int64_t>(), {}, {}});
        }
    } catch (const Json::exception& error) {
        throw train::CheckpointError("checkpoint " + source + ": its run state is unreadable (" + error.what() + ")");
    }
    if (snapshot.epoch < 0 || snapshot.round < 0 || snapshot.iteration < 0 || snapshot.averagingPoints < 0) {
        throw train::CheckpointError("checkpoint " + source + ": its run state has negative counters");
    }
    const kernels::DType dtype = model.dtype();
    const std::int64_t stateCount = std::int64_t(segments.size()) * model.parameterCount();
    snapshot.parameters = readBlocks(file, model.parameterSlices(), model.parameterCount(), dtype, "", source);
    const bool statePerReplica = state.value("optimizer_state_per_replica", false);
    const bool statisticsPerReplica = state.value("statistics_per_replica", false);
    if (model.statisticsCount() > 0 && !statisticsPerReplica) {
        snapshot.statistics = readBlocks(file, model.statisticsSlices(), model.statisticsCount(), dtype, "", source);
    }
    if (stateCount > 0 && !statePerReplica) {
        snapshot.optimizerState = readBlocks(file, segmentSlices(model, segments), stateCount, dtype, "optimizer.", source);
    }
    if (state.value("outer_velocity", false)) {
        snapshot.outerVelocity =
            readBlocks(file, model.parameterSlices(), model.parameterCount(), dtype, "outer.velocity.", source);
    }
    for (std::size_t r = 0; r < snapshot.replicas.size(); ++r) {
        const std::string prefix = replicaPrefix(r);
        if (stateCount > 0 && statePerReplica) {
            snapshot.replicas[r].optimizerState =
                readBlocks(file, segmentSlices(model, segments), stateCount, dtype, prefix + "optimizer.", source);
        }
        if (model.statisticsCount() > 0 && statisticsPerReplica) {
            snapshot.replicas[r].statistics =
                readBlocks(file, model.statisticsSlices(), model.statisticsCount(), dtype, prefix, source);
        }
    }
    return snapshot;
}

}  // namespace cohort::parallel
