// `cohort train` under mpirun, as users launch it: P processes x W workers give the same
// per-epoch losses as one process of P*W workers (data is assigned by global replica index);
// the TCP transport works; a configuration mismatch stops every rank with exit 2; a rank killed
// mid-training ends the job within 30 s and leaves no process behind; `cohort info` shows the
// rank layout. Skipped when mpirun is absent or cohort was built without MPI.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/DataTestSupport.h"
#include "launch/CohortProcess.h"
#include "launch/MnistFixture.h"
#include "mpi/Mpirun.h"
#include "src/train/CheckpointFile.h"

namespace cohort {
namespace {

using data::testing_support::ScratchDirectory;
using testing_support::cohortBinary;
using testing_support::cohortHasMpi;
using testing_support::findMpirun;
using testing_support::mpirun;
using testing_support::ProcessResult;
using testing_support::slurp;
using testing_support::writeFixture;
using Clock = std::chrono::steady_clock;

// Small and single-threaded, so 4 ranks stay quick on a 2-core machine.
const std::string kSmall = " --device cpu --threads-per-worker 1 --hidden 32 --batch-size 16 --optimizer sgd ";

// Runs a shell command line (bounded by `timeout`, so a hang fails the test instead of ctest).
ProcessResult run(const std::string& commandLine, const std::string& scratch) {
    static int counter = 0;
    const std::string base = scratch + "/run" + std::to_string(counter++);
    const std::string command = "timeout -s KILL 100 " + commandLine + " >" + base + ".out 2>" + base + ".err </dev/null";
    const int status = std::system(command.c_str());
    ProcessResult result;
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = slurp(base + ".out");
    result.err = slurp(base + ".err");
    return result;
}

// Per-epoch training losses from a --metrics file.
std::vector<double> trainLosses(const std::string& metricsPath) {
    std::vector<double> losses;
    std::ifstream in(metricsPath);
    const std::string key = "\"train_loss\":";
    for (std::string line; std::getline(in, line);) {
        if (line.find("\"event\":\"epoch\"") == std::string::npos) continue;
        const auto at = line.find(key);
        if (at != std::string::npos) losses.push_back(std::stod(line.substr(at + key.size())));
    }
    return losses;
}

void expectSameLosses(const std::vector<double>& expected, const std::vector<double>& actual, const std::string& what) {
    ASSERT_FALSE(expected.empty()) << what;
    ASSERT_EQ(expected.size(), actual.size()) << what;
    for (std::size_t e = 0; e < expected.size(); ++e) {
        EXPECT_LE(std::abs(actual[e] - expected[e]), 1e-5 * std::abs(expected[e]))
            << what << ": epoch " << e + 1 << " loss " << actual[e] << " vs " << expected[e];
    }
}

class MpiLaunch : public ::testing::Test {
protected:
    void SetUp() override {
        if (findMpirun().empty()) GTEST_SKIP() << "mpirun not found on PATH";
        if (!cohortHasMpi()) GTEST_SKIP() << "cohort was built without MPI";
        writeFixture(scratch_.str(), 480, 100, false);
        data_ = " --data-dir " + scratch_.str() + " ";
    }
    std::string metrics(const std::string& name) { return scratch_.file(name + ".jsonl"); }

    // Trains `processes` x `workers` replicas and returns rank 0's per-epoch losses.
    std::vector<double> train(int processes, int workers, int frequency, bool tcp = false, const std::string& extra = "") {
        char name[64];
        std::snprintf(name, sizeof name, "p%dw%dk%d%s%zu", processes, workers, frequency, tcp ? "tcp" : "", extra.size());
        const std::string path = metrics(name);
        const std::string flags = "train" + data_ + kSmall + "--epochs 3 --workers " + std::to_string(workers) +
                                  " --averaging-frequency " + std::to_string(frequency) + " --metrics " + path + " " + extra;
        const std::string launcher = processes > 1 ? mpirun(processes, tcp) + " " : "";
        const ProcessResult result = run(launcher + cohortBinary() + " " + flags, scratch_.str());
        EXPECT_EQ(result.exitCode, 0) << flags << "\nstdout: " << result.out << "\nstderr: " << result.err;
        if (processes > 1) {
            // Rank-aware output: one progress stream (rank 0's), nothing on stderr.
            std::size_t lines = 0;
            for (std::size_t at = result.out.find("epoch 1/3"); at != std::string::npos; at = result.out.find("epoch 1/3", at + 1)) ++lines;
            EXPECT_EQ(lines, 1u) << result.out;
            EXPECT_NE(result.out.find("mpirun job: " + std::to_string(processes) + " processes"), std::string::npos) << result.out;
            EXPECT_EQ(result.err, "") << result.err;
        }
        return trainLosses(path);
    }

    ScratchDirectory scratch_;
    std::string data_;
};

TEST_F(MpiLaunch, TwoProcessesOfOneWorkerMatchOneProcessOfTwoWorkers) {
    for (int frequency : {1, 3}) {
        const auto single = train(1, 2, frequency);
        const auto job = train(2, 1, frequency);
        expectSameLosses(single, job, "-np 2 --workers 1 vs --workers 2, K=" + std::to_string(frequency));
    }
}

TEST_F(MpiLaunch, TwoProcessesOfTwoWorkersMatchOneProcessOfFourWorkers) {
    const auto single = train(1, 4, 1);
    expectSameLosses(single, train(2, 2, 1), "-np 2 --workers 2 vs --workers 4");
}

// The outer optimizer: one state shared by four threads' replicas in one process, one state per
// replica across two processes; the same arithmetic on the same means.
TEST_F(MpiLaunch, AnOuterOptimizerAcrossProcessesMatchesOneProcess) {
    const std::string outer = "--outer-optimizer nesterov --outer-lr 0.7 --average-updaters false";
    const auto single = train(1, 4, 3, false, outer);
    expectSameLosses(single, train(2, 2, 3, false, outer), "outer Nesterov, -np 2 --workers 2 vs --workers 4, K=3");
    EXPECT_NE(single, train(1, 4, 3));  // and it is not plain averaging
}

// --lr-scaling counts the job's replicas, not this process's: -np 2 --workers 1 is 2 replicas.
TEST_F(MpiLaunch, LearningRateScalingCountsEveryProcesssReplicas) {
    const std::string scaling = "--lr 0.05 --lr-schedule constant --lr-scaling linear";  // kSmall trains sgd
    const auto single = train(1, 2, 3, false, scaling);
    expectSameLosses(single, train(2, 1, 3, false, scaling), "linear scaling, -np 2 --workers 1 vs --workers 2");
    char name[64];
    std::snprintf(name, sizeof name, "p2w1k3%zu", scaling.size());
    const std::string record = slurp(metrics(name));
    EXPECT_NE(record.find("\"lr-scaling\":\"linear x2\""), std::string::npos) << record;
    EXPECT_NE(record.find("\"learning_rate\":0.1}"), std::string::npos) << record;
    EXPECT_NE(single, train(1, 2, 3, false, "--lr 0.05 --lr-schedule constant"));
}

TEST_F(MpiLaunch, FourProcessesOverTcpMatchOneProcessOfFourWorkers) {
    const auto single = train(1, 4, 3);
    expectSameLosses(single, train(4, 1, 3, true), "-np 4 over btl tcp vs --workers 4, K=3");
}

// Shared gradients on 3 processes, where MPI's summation order may depend on a message's size:
// averaging each bucket while the backward pass goes on trains bitwise what averaging the same
// buckets after it does (three buckets of different sizes: --hidden 32,32, 1 KiB buckets).
TEST_F(MpiLaunch, OverlappedGradientAveragingMatchesTheSequentialOneBitwiseOnThreeProcesses) {
    auto trainShared = [&](const std::string& overlap) {
        const std::string path = scratch_.file("shared-overlap-" + overlap + ".safetensors");
        const std::string flags = "train" + data_ +
                                  " --device cpu --threads-per-worker 1 --hidden 32,32 --batch-size 16 --epochs 3 --workers 2"
                                  " --training-mode shared-gradients --bucket-size 1K --overlap-gradients " +
                                  overlap + " --save " + path;
        const ProcessResult result = run(mpirun(3) + " " + cohortBinary() + " " + flags, scratch_.str());
        EXPECT_EQ(result.exitCode, 0) << flags << "\nstdout: " << result.out << "\nstderr: " << result.err;
        return train::readCheckpointFile(path);
    };
    const train::CheckpointFile overlapped = trainShared("true");
    const train::CheckpointFile sequential = trainShared("false");
    ASSERT_EQ(overlapped.tensors.size(), sequential.tensors.size());
    ASSERT_FALSE(overlapped.tensors.empty());
    for (std::size_t i = 0; i < overlapped.tensors.size(); ++i) {
        EXPECT_EQ(overlapped.tensors[i].name, sequential.tensors[i].name);
        EXPECT_TRUE(overlapped.tensors[i].bytes == sequential.tensors[i].bytes) << overlapped.tensors[i].name << " differs";
    }
}

TEST_F(MpiLaunch, ConfigurationMismatchStopsEveryRankWithExitCode2) {
    // Rank 1 gets a different learning rate through its environment (as a per-node config would).
    const std::string script = scratch_.file("per-rank.sh");
    data::testing_support::writeText(script, "#!/bin/sh\nlr=0.05\n[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && lr=0.02\nexec \"$@\" --lr $lr\n");
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    const ProcessResult result =
        run(mpirun(2) + " " + script + " " + cohortBinary() + " train" + data_ + kSmall + "--epochs 1", scratch_.str());
    EXPECT_EQ(result.exitCode, 2) << result.err;
    for (const char* rank : {"cohort[rank 0]: error: ", "cohort[rank 1]: error: "}) {
        const auto at = result.err.find(rank);
        ASSERT_NE(at, std::string::npos) << rank << "\n" << result.err;
        const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
        EXPECT_NE(line.find("--lr: rank 1 has '0.02', rank 0 has '0.05'"), std::string::npos) << line;
    }
    EXPECT_EQ(result.out.find("epoch 1/"), std::string::npos) << "training must not start:\n" << result.out;
}

TEST_F(MpiLaunch, ARankWithoutItsDataStopsEveryRankWithExitCode2NamingIt) {
    // Rank 1 is pointed at an empty data directory (as a host without the data set would be):
    // every rank ends with exit 2 and the same line naming rank 1, its host and the file, at
    // once instead of after --mpi-timeout.
    const std::string empty = scratch_.file("empty");
    std::filesystem::create_directories(empty);
    const std::string script = scratch_.file("per-rank-data.sh");
    data::testing_support::writeText(script, "#!/bin/sh\ndir=" + scratch_.str() + "\n[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && dir=" +
                                                 empty + "\nexec \"$@\" --data-dir $dir\n");
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    const auto start = Clock::now();
    const ProcessResult result = run(mpirun(2) + " " + script + " " + cohortBinary() + " train" + kSmall +
                                         "--epochs 1 --mpi-timeout 60",
                                     scratch_.str());
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30.0) << "the ranks waited for a timeout";
    EXPECT_EQ(result.exitCode, 2) << result.err;
    for (const char* rank : {"cohort[rank 0]: error: ", "cohort[rank 1]: error: "}) {
        const auto at = result.err.find(rank);
        ASSERT_NE(at, std::string::npos) << rank << "\n" << result.err;
        const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
        EXPECT_NE(line.find("rank 1 on "), std::string::npos) << line;
        EXPECT_NE(line.find(empty), std::string::npos) << line;
    }
    EXPECT_EQ(result.err.find("MPI_ABORT"), std::string::npos) << "the ranks should end together:\n" << result.err;
}

// Processes whose command line mentions `token` (zombies excluded), with their MPI rank.
std::vector<std::pair<pid_t, int>> processesMentioning(const std::string& token) {
    std::vector<std::pair<pid_t, int>> found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string commandLine = slurp(entry.path() / "cmdline");
        for (char& c : commandLine) c = c == '\0' ? ' ' : c;
        if (commandLine.find(token) == std::string::npos || commandLine.find("cohort") == std::string::npos) continue;
        const std::string stat = slurp(entry.path() / "stat");
        const auto close = stat.rfind(')');
        if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') continue;
        int rank = -1;
        std::string environment = slurp(entry.path() / "environ");
        const std::string key = "OMPI_COMM_WORLD_RANK=";
        for (std::size_t at = environment.find(key); at != std::string::npos; at = std::string::npos) {
            if (at == 0 || environment[at - 1] == '\0') rank = std::atoi(environment.c_str() + at + key.size());
        }
        found.emplace_back(pid_t(std::stoi(name)), rank);
    }
    return found;
}

TEST_F(MpiLaunch, KillingOneRankEndsTheJobWithinThirtySecondsAndLeavesNoProcess) {
    // Far more epochs than the test waits for: the job only ends because a rank is killed.
    const std::string path = metrics("killed");
    const std::string command = mpirun(2) + " " + cohortBinary() + " train" + data_ + kSmall +
                                "--workers 1 --epochs 100000 --quiet --metrics " + path + " >" +
                                scratch_.file("killed.out") + " 2>&1 </dev/null";
    const pid_t launcher = ::fork();
    ASSERT_GE(launcher, 0);
    if (launcher == 0) {
        ::setpgid(0, 0);
        ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    struct Cleanup {  // whatever happens, no process of this job outlives the test
        pid_t launcher;
        std::string token;
        ~Cleanup() {
            ::kill(-launcher, SIGKILL);
            for (const auto& [pid, rank] : processesMentioning(token)) ::kill(pid, SIGKILL);
            ::waitpid(launcher, nullptr, WNOHANG);
        }
    } cleanup{launcher, path};

    // Training has started once rank 0 wrote its first epoch; then kill rank 1.
    const auto started = Clock::now();
    while (trainLosses(path).empty() && Clock::now() - started < std::chrono::seconds(60)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(trainLosses(path).empty()) << "training never started: " << slurp(scratch_.file("killed.out"));
    pid_t victim = -1;
    for (const auto& [pid, rank] : processesMentioning(path)) {
        if (rank == 1) victim = pid;
    }
    ASSERT_GT(victim, 0) << "rank 1's process not found";
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    const auto killed = Clock::now();

    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(launcher, &status, WNOHANG)) == 0 && Clock::now() - killed < std::chrono::seconds(30)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
    ASSERT_EQ(done, launcher) << "mpirun still running " << seconds << " s after rank 1 was killed";
    EXPECT_TRUE(!WIFEXITED(status) || WEXITSTATUS(status) != 0) << "mpirun exited 0 after losing a rank";
    EXPECT_LT(seconds, 30.0);
    const std::string output = slurp(scratch_.file("killed.out"));
    EXPECT_NE(output.find("rank 1"), std::string::npos) << "no line names the lost rank:\n" << output;
    // Every process of the job is gone (allow a moment for the kernel to reap them).
    const auto stopped = Clock::now();
    while (!processesMentioning(path).empty() && Clock::now() - stopped < std::chrono::seconds(5)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(processesMentioning(path).empty()) << "a process of the killed job is still running";
}

TEST_F(MpiLaunch, InfoShowsRankLocalRankAndCommunicator) {
    const ProcessResult result = run(mpirun(2) + " " + cohortBinary() + " info", scratch_.str());
    ASSERT_EQ(result.exitCode, 0) << result.err;
    EXPECT_NE(result.out.find("mpi: rank 0 of 2, local rank 0 of 2"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("mpi: rank 1 of 2, local rank 1 of 2"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("communicator: host-staged MPI_Allreduce"), std::string::npos) << result.out;
    // Rank 0 speaks for the job: the general information appears once.
    EXPECT_EQ(result.out.find("backends:"), result.out.rfind("backends:")) << result.out;
}

}  // namespace
}  // namespace cohort
