#include "launch/supervise/Supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "launch/run/Checkpoints.h"
#include "launch/run/LaunchRestart.h"
#include "launch/supervise/Hosts.h"
#include "launch/supervise/JobFailure.h"
#include "launch/supervise/JobProcess.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

namespace fs = std::filesystem;

volatile std::sig_atomic_t gSignal = 0;
volatile std::sig_atomic_t gSignals = 0;
void onSignal(int signal) {
    if (gSignal == 0) gSignal = signal;
    gSignals = gSignals + 1;
}

// SIGINT/SIGTERM recorded for the loop (which passes them on to mpirun) while the job runs.
class SignalsToSupervisor {
public:
    SignalsToSupervisor() {
        struct sigaction action {};
        action.sa_handler = onSignal;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &previousInterrupt_);
        ::sigaction(SIGTERM, &action, &previousTerminate_);
    }
    ~SignalsToSupervisor() {
        ::sigaction(SIGINT, &previousInterrupt_, nullptr);
        ::sigaction(SIGTERM, &previousTerminate_, nullptr);
    }
    SignalsToSupervisor(const SignalsToSupervisor&) = delete;
    SignalsToSupervisor& operator=(const SignalsToSupervisor&) = delete;

private:
    struct sigaction previousInterrupt_ {};
    struct sigaction previousTerminate_ {};
};

std::string readText(const std::string& path, const std::string& what) {
    std::ifstream in(path);
    if (!in) throw InputError("cannot read " + what + " " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string discoveredHostsText(const std::string& command) {
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run --host-discovery '" + command + "'");
    std::string text;
    char buffer[4096];
    for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, got);
    const int status = ::pclose(pipe);
    if (status != 0) throw std::runtime_error("--host-discovery '" + command + "' failed (status " + std::to_string(status) + ")");
    return text;
}

std::string cohortExecutable() {
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    return error ? std::string("cohort") : self.string();
}

struct Attempt {
    int status = 0;
    int signal = 0;  // SIGINT/SIGTERM the supervisor received (and passed on) during it
    JobFailure failure;
};

// One mpirun of the job on `hosts`: its stderr passed through and read for a lost rank or host.
// mpirun may wait long for a daemon it cannot reach; once a rank has reported a loss it gets
// `graceSeconds` to end, then it and its local processes are killed (daemons elsewhere end their
// ranks when mpirun goes).
Attempt runAttempt(const LaunchOptions& options, const std::vector<Host>& hosts, const std::vector<std::string>& train,
                   const std::string& restart, const std::string& hostfile) {
    std::ofstream(hostfile) << hostfileText(hosts);
    std::vector<std::string> argv = {"mpirun", "--hostfile", hostfile, "-np", std::to_string(rankCount(hosts))};
    std::vector<std::string> environment;
    if (!restart.empty()) {
        argv.insert(argv.end(), {"-x", "COHORT_LAUNCH_RESTART"});
        environment.push_back("COHORT_LAUNCH_RESTART=" + restart);
    }
    argv.insert(argv.end(), options.mpirunArguments.begin(), options.mpirunArguments.end());
    argv.push_back(cohortExecutable());
    argv.insert(argv.end(), train.begin(), train.end());
    Attempt attempt;
    JobProcess job(argv, [&attempt](const std::string& line) {
        std::fprintf(stderr, "%s\n", line.c_str());
        attempt.failure.see(line, wallClockSeconds());
    }, environment);
    bool killed = false;
    int passed = 0;
    while (!job.waitFor(100)) {
        if (gSignals > passed) {  // the first signal is passed on; a second one ends the job at once
            passed = gSignals;
            attempt.signal = gSignal;
            if (passed == 1) job.signal(gSignal);
            else job.signalGroup(SIGKILL);
        }
        if (!killed && attempt.signal == 0 && attempt.failure.lostRankOrHost() &&
            wallClockSeconds() > attempt.failure.failedAt() + options.graceSeconds) {
            job.signalGroup(SIGKILL);
            killed = true;
        }
    }
    attempt.status = job.status();
    return attempt;
}

std::string checkpointDirectoryOf(const LaunchOptions& options) {
    const std::string directory = trainFlag(options.trainArguments, "--checkpoint-dir");
    if (directory.empty()) {
        throw InputError("cohort launch needs the job's --checkpoint-dir (in the train flags after --): a restart "
                         "continues from its newest checkpoint");
    }
    return directory;
}

std::string lostHostsText(const std::set<std::string>& hosts) {
    const std::string text = commaSeparated({hosts.begin(), hosts.end()});
    return text.empty() ? "a rank (no host named)" : text;
}

// The hosts of the next attempt: the discovery command's answer, or the current hosts without those
// the failure named; either way each one probed.
std::vector<Host> nextHosts(const LaunchOptions& options, const std::vector<Host>& current, const JobFailure& failure) {
    std::vector<Host> candidates;
    if (!options.hostDiscovery.empty()) {
        candidates = parseDiscoveredHosts(discoveredHostsText(options.hostDiscovery), "--host-discovery's answer");
        setSlots(candidates, options.slots);
    } else {
        for (const Host& host : current) {
            if (!failure.lostHosts().count(host.name)) candidates.push_back(host);
        }
    }
    return candidates.empty() ? candidates : probeHosts(candidates, options.mpirunArguments, options.probeSeconds);
}

// What the restarted job is told (COHORT_LAUNCH_RESTART; its rank 0 writes it as a "restart" event).
std::string restartRecord(int restart, const LaunchOptions& options, const JobFailure& failure,
                          const std::set<std::string>& lost, const std::vector<Host>& hosts, const std::string& checkpoint) {
    nlohmann::json record = {{"restart", restart},
                             {"max_restarts", options.maxRestarts},
                             {"lost_hosts", lost},
                             {"failure", failure.reason()},
                             {"failed_at", failure.failedAt()},
                             {"iteration_failed", failure.iteration()},
                             {"hosts", hostNames(hosts)},
                             {"ranks", rankCount(hosts)},
                             {"checkpoint", checkpoint}};
    return record.dump();
}

std::string newestCheckpointIn(const std::string& directory) {
    try {
        return newestValidCheckpoint(directory).path;
    } catch (const std::exception&) {
        return "";  // none yet: the job starts again from the beginning
    }
}

// Whether the job ends here, and with which status: success, a signal, a failure no restart fixes,
// restarts used up. -1: restart it.
int endOfJob(const LaunchOptions& options, const Attempt& attempt, int restarts) {
    if (attempt.signal != 0) {
        std::fprintf(stderr, "cohort launch: stopped by %s (the job was asked to stop at its next sync point); not restarting\n",
                     attempt.signal == SIGINT ? "SIGINT" : "SIGTERM");
        return 128 + attempt.signal;
    }
    if (attempt.status == 0) return 0;
    const JobFailure& failure = attempt.failure;
    if (!failure.lostRankOrHost() || failure.diverged()) {
        std::fprintf(stderr, "cohort launch: error: the job failed (exit %d) in a way a restart cannot fix%s%s; not restarting\n",
                     attempt.status, failure.reason().empty() ? "" : ": ", failure.reason().c_str());
        return attempt.status == 2 ? 2 : 1;
    }
    if (restarts >= options.maxRestarts) {
        std::fprintf(stderr, "cohort launch: error: lost %s after %d restart(s), the most --max-restarts allows; stopping\n",
                     lostHostsText(failure.lostHosts()).c_str(), restarts);
        return 1;
    }
    return -1;
}

}  // namespace

std::string trainFlag(const std::vector<std::string>& arguments, const std::string& flag) {
    std::string value;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == flag && i + 1 < arguments.size()) value = arguments[i + 1];
        else if (arguments[i].rfind(flag + "=", 0) == 0) value = arguments[i].substr(flag.size() + 1);
    }
    return value;
}

std::vector<std::string> withoutTrainFlag(const std::vector<std::string>& arguments, const std::string& flag) {
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == flag) ++i;  // and its value
        else if (arguments[i].rfind(flag + "=", 0) != 0) kept.push_back(arguments[i]);
    }
    return kept;
}

int superviseJob(const LaunchOptions& options) {
    if (options.trainArguments.empty() || options.trainArguments[0] != "train") {
        throw InputError("cohort launch runs a training job: put 'train' and its flags after --, e.g. "
                         "cohort launch --hostfile hosts -- train --checkpoint-dir ckpt");
    }
    const std::string checkpoints = checkpointDirectoryOf(options);
    std::vector<Host> hosts = parseHostfile(readText(options.hostfile, "--hostfile"), "--hostfile " + options.hostfile);
    setSlots(hosts, options.slots);
    if (int(hosts.size()) < options.minHosts) {
        throw InputError("--hostfile " + options.hostfile + " names " + std::to_string(hosts.size()) +
                         " host(s), fewer than --min-hosts " + std::to_string(options.minHosts));
    }
    char scratchName[] = "/tmp/cohort-launch.XXXXXX";
    if (!::mkdtemp(scratchName)) throw std::runtime_error("cannot make a temporary folder for the job's hostfiles");
    const std::string scratch = scratchName;
    SignalsToSupervisor signals;
    std::vector<std::string> train = options.trainArguments;
    std::string restart;
    for (int restarts = 0;; ++restarts) {
        const Attempt attempt = runAttempt(options, hosts, train, restart, scratch + "/hostfile-" + std::to_string(restarts));
        const int status = endOfJob(options, attempt, restarts);
        if (status >= 0) {
            fs::remove_all(scratch);
            return status;
        }
        // Lost: the hosts the failure named, and those of the job that no longer answer (a rank
        // may report only that it lost contact, naming nobody).
        std::set<std::string> lost = attempt.failure.lostHosts();
        const std::vector<Host> next = nextHosts(options, hosts, attempt.failure);
        for (const Host& host : hosts) {
            if (std::none_of(next.begin(), next.end(), [&](const Host& kept) { return kept.name == host.name; })) lost.insert(host.name);
        }
        hosts = next;
        if (gSignal != 0) {  // asked to stop while the hosts were probed: no job is running, none starts
            std::fprintf(stderr, "cohort launch: stopped by %s before restarting; the newest checkpoint is in %s\n",
                         gSignal == SIGINT ? "SIGINT" : "SIGTERM", checkpoints.c_str());
            fs::remove_all(scratch);
            return 128 + gSignal;
        }
        if (int(hosts.size()) < options.minHosts) {
            std::fprintf(stderr, "cohort launch: error: lost %s; %zu usable host(s) left%s%s, fewer than --min-hosts %d; stopping\n",
                         lostHostsText(lost).c_str(), hosts.size(), hosts.empty() ? "" : ": ",
                         hostNames(hosts).c_str(), options.minHosts);
            fs::remove_all(scratch);
            return 1;
        }
        const std::string checkpoint = newestCheckpointIn(checkpoints);
        train = withoutTrainFlag(options.trainArguments, "--resume");
        if (!checkpoint.empty()) train.insert(train.end(), {"--resume", checkpoint});
        else train = options.trainArguments;
        restart = restartRecord(restarts + 1, options, attempt.failure, lost, hosts, checkpoint);
        std::fprintf(stderr, "cohort launch: lost %s%s; restart %d of %d on %s (%d ranks) from %s\n",
                     lostHostsText(lost).c_str(),
                     attempt.failure.iteration() >= 0 ? (" at iteration " + std::to_string(attempt.failure.iteration())).c_str() : "",
                     restarts + 1, options.maxRestarts, hostNames(hosts).c_str(), rankCount(hosts),
                     checkpoint.empty() ? "the beginning (no checkpoint yet)" : checkpoint.c_str());
    }
}

}  // namespace cohort::launch
