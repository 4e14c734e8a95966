#include "launch/run/LaunchRestart.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace cohort::launch {
namespace {

double secondsSinceFailure(const LaunchRestart& restart) {
    return restart.failedAt > 0.0 ? wallClockSeconds() - restart.failedAt : 0.0;
}

// The checkpoint's iteration in the numbering of the job that wrote it (the failed one).
std::int64_t checkpointIteration(const ResumeSource& resumed, std::int64_t resumedIteration) {
    return resumed.replicasBefore > 0 ? resumed.iterationBefore : resumedIteration;
}

std::int64_t redone(const LaunchRestart& restart, const ResumeSource& resumed, std::int64_t resumedIteration) {
    if (restart.iterationFailed < 0) return -1;
    const std::int64_t from = resumed.path.empty() ? 0 : checkpointIteration(resumed, resumedIteration);
    return std::max<std::int64_t>(0, restart.iterationFailed - from);
}

}  // namespace

double wallClockSeconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<LaunchRestart> launchRestartFromEnvironment() {
    const char* text = std::getenv("COHORT_LAUNCH_RESTART");
    if (text == nullptr || *text == '\0') return std::nullopt;
    const nlohmann::json record = nlohmann::json::parse(text, nullptr, false);
    if (!record.is_object()) return std::nullopt;
    try {
        LaunchRestart restart;
        restart.restart = record.at("restart").get<int>();
        restart.maxRestarts = record.value("max_restarts", 0);
        restart.lostHosts = record.value("lost_hosts", std::vector<std::string>{});
        restart.failure = record.value("failure", std::string());
        restart.failedAt = record.value("failed_at", 0.0);
        restart.iterationFailed = record.value("iteration_failed", std::int64_t(-1));
        restart.hosts = record.value("hosts", std::string());
        return restart;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

std::string restartEvent(const LaunchRestart& restart, const ResumeSource& resumed, std::int64_t resumedIteration,
                         int resumedEpoch, int replicas, int processes) {
    nlohmann::json event = {{"event", "restart"},
                            {"restart", restart.restart},
                            {"max_restarts", restart.maxRestarts},
                            {"lost_hosts", restart.lostHosts},
                            {"failure", restart.failure},
                            {"checkpoint", resumed.path},
                            {"iteration", resumedIteration},
                            {"epoch", resumedEpoch},
                            {"iteration_failed", restart.iterationFailed},
                            {"iterations_redone", nullptr},
                            {"failed_at", restart.failedAt},
                            {"seconds_from_failure", secondsSinceFailure(restart)},
                            {"hosts", restart.hosts},
                            {"processes", processes},
                            {"replicas", replicas}};
    // Known when a rank named the iteration it failed in (a rank killed outright names none).
    if (const std::int64_t again = redone(restart, resumed, resumedIteration); again >= 0) event["iterations_redone"] = again;
    if (restart.iterationFailed < 0) event["iteration_failed"] = nullptr;
    if (resumed.replicasBefore > 0) event["replicas_before"] = resumed.replicasBefore;
    return event.dump();
}

std::string restartLine(const LaunchRestart& restart, const ResumeSource& resumed, std::int64_t resumedIteration,
                        int replicas) {
    std::string lost;
    for (const std::string& host : restart.lostHosts) lost += (lost.empty() ? "" : ",") + host;
    char line[512];
    const std::int64_t again = redone(restart, resumed, resumedIteration);
    std::snprintf(line, sizeof line, "restart %d of %d after losing %s: %s on %d replica(s) (%s), %s%.1f s after the failure",
                  restart.restart, restart.maxRestarts, lost.empty() ? "a rank" : lost.c_str(),
                  resumed.path.empty() ? "from the beginning" : ("from " + resumed.path).c_str(), replicas,
                  restart.hosts.c_str(),
                  again >= 0 ? (std::to_string(again) + " iteration(s) done again, ").c_str() : "",
                  secondsSinceFailure(restart));
    return line;
}

}  // namespace cohort::launch
