#include "launch/job/ConfigurationAgreement.h"

#include <cstdint>
#include <string>
#include <vector>

#include "launch/run/RunSettings.h"

namespace cohort::launch {

namespace {

void broadcastText(parallel::ProcessGroup& processes, std::string& text, int from) {
    std::uint64_t length = text.size();
    processes.broadcast(&length, sizeof length, from);
    text.resize(std::size_t(length));
    if (length > 0) processes.broadcast(text.data(), std::size_t(length), from);
}

// Every rank contributes one value (0: nothing to report); all learn each rank's value. Returns
// the values with the first rank whose value is not 0 (-1: none) and how many are not 0.
struct Flagged {
    std::vector<double> values;
    int first = -1;
    int count = 0;
};

Flagged gatherFlags(parallel::ProcessGroup& processes, double mine) {
    Flagged flagged;
    flagged.values.assign(std::size_t(processes.size()), 0.0);
    flagged.values[std::size_t(processes.rank())] = mine;
    processes.allreduceSum(kernels::DType::Float64, flagged.values.data(), processes.size());
    for (int r = 0; r < processes.size(); ++r) {
        if (flagged.values[std::size_t(r)] == 0.0) continue;
        if (flagged.first < 0) flagged.first = r;
        ++flagged.count;
    }
    return flagged;
}

}  // namespace

void agreeOnStartup(parallel::ProcessGroup& processes, const std::string& error, bool inputError) {
    const int rank = processes.rank();
    if (processes.size() <= 1) return;
    // 0: ready, 1: bad input, 2: another failure.
    const Flagged failed = gatherFlags(processes, error.empty() ? 0.0 : inputError ? 1.0 : 2.0);
    if (failed.first < 0) return;
    std::string message = rank == failed.first ? error : std::string();
    broadcastText(processes, message, failed.first);
    throw AgreedFailure(processes.describeRank(failed.first) + ": " + message +
                            (failed.count > 1 ? " (" + std::to_string(failed.count) + " ranks failed to start)" : ""),
                        failed.values[std::size_t(failed.first)] == 1.0 ? 2 : 1);
}

void agreeOnSettings(parallel::ProcessGroup& processes, const std::string& settings) {
    const int rank = processes.rank();
    if (processes.size() <= 1) return;
    const std::uint64_t mine = settingsHash(settings);
    std::uint64_t root = mine;
    processes.broadcast(&root, sizeof root, 0);
    const Flagged differs = gatherFlags(processes, mine != root ? 1.0 : 0.0);
    const int first = differs.first, count = differs.count;
    if (first < 0) return;

    std::string rootSettings = rank == 0 ? settings : std::string();
    broadcastText(processes, rootSettings, 0);
    std::string difference = rank == first ? describeFirstDifference(rootSettings, settings, rank) : std::string();
    broadcastText(processes, difference, first);
    if (difference.empty()) difference = "rank " + std::to_string(first) + " differs from rank 0";
    const std::string host = processes.hostOf(first), rootHost = processes.hostOf(0);
    if (!host.empty()) difference += " (rank " + std::to_string(first) + " runs on " + host + ", rank 0 on " + rootHost + ")";
    throw ConfigurationMismatch("ranks disagree on the training configuration: " + difference +
                                (count > 1 ? " (" + std::to_string(count) + " ranks differ from rank 0)" : "") +
                                "; launch every rank with the same flags, config file and data");
}

}  // namespace cohort::launch
