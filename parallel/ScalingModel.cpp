#include "parallel/ScalingModel.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "src/core/Errors.h"

namespace cohort::parallel {
namespace {

constexpr double kStopVoteBytes = 8.0;  // one double (WorkerLoop::castStopVote)

int ceilLog2(int value) {
    int bits = 0;
    while ((1 << bits) < value) ++bits;
    return bits;
}

void requirePositiveFinite(double value, const char* field) {
    if (!(value > 0.0) || !std::isfinite(value)) {
        throw SettingError(std::string("{") + field + "} must be a positive number, got " + std::to_string(value));
    }
}

}  // namespace

const char* toString(AllreduceAlgorithm algorithm) {
    return algorithm == AllreduceAlgorithm::Ring ? "ring" : "binomial";
}

AllreduceCoefficients allreduceCoefficients(AllreduceAlgorithm algorithm, int processes) {
    if (processes < 1) throw SettingError("{processes} must be at least 1, got " + std::to_string(processes));
    if (processes == 1) return {};
    if (algorithm == AllreduceAlgorithm::Ring) {
        const double p = processes;
        return {2.0 * (p - 1.0), 2.0 * (p - 1.0) / p};
    }
    const double rounds = 2.0 * ceilLog2(processes);
    return {rounds, rounds};
}

double allreduceSeconds(const LinkModel& link, AllreduceAlgorithm algorithm, int processes, double bytes) {
    const AllreduceCoefficients c = allreduceCoefficients(algorithm, processes);
    if (c.latencyTerms == 0.0 && c.byteTerms == 0.0) return 0.0;
    return c.latencyTerms * link.latencySeconds + c.byteTerms * bytes / link.bytesPerSecond;
}

LinkModel fitLinkModel(const std::vector<LinkSample>& samples, AllreduceAlgorithm algorithm, int processes) {
    if (processes < 2) throw SettingError("{processes} must be at least 2 to fit a link, got " + std::to_string(processes));
    // Minimise sum(((c0 + c1·n − t) / t)^2): weights 1/t^2 in the normal equations.
    double sw = 0, sn = 0, snn = 0, st = 0, snt = 0;
    double smallest = 0, smallestTime = 0, largest = -1, largestTime = 0;
    bool first = true;
    for (const LinkSample& sample : samples) {
        if (!(sample.seconds > 0.0) || !(sample.bytes >= 0.0)) continue;
        const double w = 1.0 / (sample.seconds * sample.seconds);
        sw += w;
        sn += w * sample.bytes;
        snn += w * sample.bytes * sample.bytes;
        st += w * sample.seconds;
        snt += w * sample.bytes * sample.seconds;
        if (first || sample.bytes < smallest) {
            smallest = sample.bytes;
            smallestTime = sample.seconds;
        }
        if (sample.bytes > largest) {
            largest = sample.bytes;
            largestTime = sample.seconds;
        }
        first = false;
    }
    const double determinant = sw * snn - sn * sn;
    if (first || largest <= smallest || !(determinant > 0.0)) {
        throw SettingError("fitting the link needs timed allreduces of at least two sizes");
    }
    double intercept = (snn * st - sn * snt) / determinant;
    double slope = (sw * snt - sn * st) / determinant;
    if (!(intercept > 0.0)) intercept = smallestTime;
    if (!(slope > 0.0)) slope = (largestTime - intercept) / largest;
    if (!(slope > 0.0)) {
        throw SettingError("the timed allreduces do not grow with their size: no bandwidth can be fitted "
                           "(time larger messages, or give the link)");
    }
    const AllreduceCoefficients c = allreduceCoefficients(algorithm, processes);
    return {intercept / c.latencyTerms, c.byteTerms / slope};
}

SyncCost averagingPointCost(double localSeconds, std::int64_t parameterBytes, std::int64_t stateBytes,
                            std::int64_t statisticsBytes) {
    SyncCost cost;
    cost.localSeconds = localSeconds;
    cost.barriers = 1;
    cost.allreduceBytes = {kStopVoteBytes, double(parameterBytes)};
    if (stateBytes > 0) cost.allreduceBytes.push_back(double(stateBytes));
    if (statisticsBytes > 0) cost.allreduceBytes.push_back(double(statisticsBytes));
    return cost;
}

SyncCost sharedGradientsStepCost(double localSeconds, std::int64_t gradientBytes) {
    SyncCost cost;
    cost.localSeconds = localSeconds;
    cost.allreduceBytes = {kStopVoteBytes, double(gradientBytes)};
    return cost;
}

double allreduceSeconds(const LinkModel& link, AllreduceAlgorithm algorithm, int processes, double bytes,
                        const std::vector<LinkSample>& probed) {
    if (processes <= 1) return 0.0;
    if (probed.empty()) return allreduceSeconds(link, algorithm, processes, bytes);
    std::vector<LinkSample> sorted = probed;
    std::sort(sorted.begin(), sorted.end(), [](const LinkSample& a, const LinkSample& b) { return a.bytes < b.bytes; });
    if (bytes <= sorted.front().bytes) return sorted.front().seconds;
    if (bytes >= sorted.back().bytes) {
        return sorted.back().seconds + allreduceCoefficients(algorithm, processes).byteTerms * (bytes - sorted.back().bytes) /
                                           link.bytesPerSecond;
    }
    const auto above = std::upper_bound(sorted.begin(), sorted.end(), bytes,
                                        [](double n, const LinkSample& sample) { return n < sample.bytes; });
    const LinkSample& low = *(above - 1);
    const LinkSample& high = *above;
    return low.seconds + (high.seconds - low.seconds) * (bytes - low.bytes) / (high.bytes - low.bytes);
}

double linkSeconds(const SyncCost& cost, const LinkModel& link, AllreduceAlgorithm algorithm, int processes,
                   const std::vector<LinkSample>& probed) {
    if (processes <= 1) return 0.0;
    double seconds = 2.0 * link.latencySeconds * cost.barriers;
    for (const double bytes : cost.allreduceBytes) seconds += allreduceSeconds(link, algorithm, processes, bytes, probed);
    return seconds;
}

void ScalingInputs::validate() const {
    if (processes < 1) throw SettingError("{processes} must be at least 1, got " + std::to_string(processes));
    if (workers < 1) throw SettingError("{workers} must be at least 1, got " + std::to_string(workers));
    if (batchSize < 1) throw SettingError("{batchSize} must be at least 1, got " + std::to_string(batchSize));
    requirePositiveFinite(stepSeconds, "stepSeconds");
    if (!(sync.localSeconds >= 0.0) || !std::isfinite(sync.localSeconds)) {
        throw SettingError("{localAveragingSeconds} must be >= 0, got " + std::to_string(sync.localSeconds));
    }
    if (processes > 1) {
        requirePositiveFinite(link.latencySeconds, "latencySeconds");
        requirePositiveFinite(link.bytesPerSecond, "bytesPerSecond");
    }
}

double secondsPerSync(const ScalingInputs& inputs) {
    if (inputs.replicas() == 1) return 0.0;
    return inputs.sync.localSeconds + linkSeconds(inputs.sync, inputs.link, inputs.algorithm, inputs.processes, inputs.probed);
}

ScalingPrediction predict(const ScalingInputs& inputs, int averagingFrequency) {
    inputs.validate();
    if (averagingFrequency < 1) {
        throw SettingError("{averagingFrequency} must be at least 1, got " + std::to_string(averagingFrequency));
    }
    ScalingPrediction prediction;
    prediction.averagingFrequency = inputs.mode == TrainingMode::SharedGradients ? 1 : averagingFrequency;
    prediction.secondsPerAveragingPoint = secondsPerSync(inputs);
    const double points = inputs.mode == TrainingMode::SharedGradients
                              ? 1.0
                              : pointsPerRound(inputs.roundsPerEpoch, prediction.averagingFrequency);
    const double syncPerStep = prediction.secondsPerAveragingPoint * points;
    const double perStep = inputs.stepSeconds + syncPerStep;
    prediction.samplesPerSecond = double(inputs.replicas()) * double(inputs.batchSize) / perStep;
    prediction.averagingFraction = syncPerStep / perStep;
    return prediction;
}

double pointsPerRound(std::int64_t roundsPerEpoch, int averagingFrequency) {
    const double k = double(averagingFrequency);
    if (roundsPerEpoch <= 0) return 1.0 / k;
    const double shared = double(std::gcd(roundsPerEpoch, std::int64_t(averagingFrequency)));
    return 1.0 / k + (1.0 - shared / k) / double(roundsPerEpoch);
}

double overlappedSamplesPerSecondBound(const ScalingInputs& inputs) {
    inputs.validate();
    return double(inputs.replicas()) * double(inputs.batchSize) / std::max(inputs.stepSeconds, secondsPerSync(inputs));
}

int smallestAveragingFrequency(const ScalingInputs& inputs, double targetFraction) {
    inputs.validate();
    if (!(targetFraction > 0.0 && targetFraction < 1.0)) {
        throw SettingError("{targetFraction} must be between 0 and 1 (exclusive), got " + std::to_string(targetFraction));
    }
    const double point = secondsPerSync(inputs);
    if (point <= 0.0 || inputs.mode == TrainingMode::SharedGradients) return 1;
    const double bound = (1.0 - targetFraction) * point / (targetFraction * inputs.stepSeconds);
    if (!(bound < 1e9)) {
        throw SettingError("no averaging frequency below 10^9 keeps averaging under {targetFraction} " +
                           std::to_string(targetFraction));
    }
    int frequency = std::max(1, int(std::ceil(bound)));
    // Rounding: the closed form (which leaves out epoch ends) may land off; the prediction decides.
    while (frequency > 1 && predict(inputs, frequency - 1).averagingFraction <= targetFraction) --frequency;
    if (inputs.roundsPerEpoch > 0) {
        // Epoch ends average whatever K is: the fraction falls towards theirs and not below. When
        // theirs alone is over the target, averaging once an epoch (K = its rounds) is the least.
        const double atEpochEnds = point / double(inputs.roundsPerEpoch);
        if (atEpochEnds / (inputs.stepSeconds + atEpochEnds) > targetFraction) {
            return int(std::min<std::int64_t>(inputs.roundsPerEpoch, 1000000000));
        }
        // The fraction is not monotonic in K (gcd); the first K that meets the target is the answer.
        frequency = 1;
        while (predict(inputs, frequency).averagingFraction > targetFraction) {
            if (++frequency > 100000000) throw SettingError("no averaging frequency below 10^8 keeps averaging under {targetFraction}");
        }
        return frequency;
    }
    while (predict(inputs, frequency).averagingFraction > targetFraction) ++frequency;
    return frequency;
}

}  // namespace cohort::parallel
