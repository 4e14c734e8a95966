// cohort launch's pieces that need no cluster: host lists, reading a failed job's stderr, and the
// train flags it rewrites.
#include <gtest/gtest.h>

#include "launch/supervise/Hosts.h"
#include "launch/supervise/JobFailure.h"
#include "launch/supervise/Supervisor.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

TEST(Hosts, AHostfileGivesNamesAndSlots) {
    const std::vector<Host> hosts = parseHostfile("# the job\nnode1 slots=4\n\nnode2   # one slot\nnode3 slots=2 max_slots=8\n", "hf");
    ASSERT_EQ(hosts.size(), 3u);
    EXPECT_EQ(hosts[0].name, "node1");
    EXPECT_EQ(hosts[0].slots, 4);
    EXPECT_EQ(hosts[1].slots, 1);
    EXPECT_EQ(hosts[2].slots, 2);
    EXPECT_EQ(rankCount(hosts), 7);
    EXPECT_EQ(hostNames(hosts), "node1,node2,node3");
    EXPECT_EQ(hostfileText(hosts), "node1 slots=4\nnode2 slots=1\nnode3 slots=2\n");
}

TEST(Hosts, ADiscoveryAnswerIsOneHostALine) {
    std::vector<Host> hosts = parseDiscoveredHosts("a\nb:3\n", "discovery");
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_EQ(hosts[1].name, "b");
    EXPECT_EQ(hosts[1].slots, 3);
    setSlots(hosts, 2);
    EXPECT_EQ(rankCount(hosts), 4);
}

TEST(Hosts, BadListsAreRefusedNamingTheLine) {
    const auto refused = [](auto parse, const std::string& text, const std::string& expected) {
        try {
            parse(text, "hf");
            ADD_FAILURE() << "accepted: " << text;
        } catch (const InputError& error) {
            EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
        }
    };
    refused(parseHostfile, "node1 slots=0\n", "hf line 1: slots must be a positive whole number");
    refused(parseHostfile, "node1\nnode2 cores=3\n", "hf line 2: 'cores=3' is not slots=N");
    refused(parseHostfile, "# only a comment\n", "hf names no host");
    refused(parseDiscoveredHosts, "a b\n", "hf line 1: one host a line");
    refused(parseDiscoveredHosts, "a:x\n", "slots must be a positive whole number, got 'x'");
    refused(parseDiscoveredHosts, ":2\n", "a host name is missing");
}

TEST(JobFailure, RankZerosLineNamesTheLostHostAndTheIteration) {
    JobFailure failure;
    failure.see("cohort[rank 1]: error: worker 0 failed: lost contact with the other MPI ranks: allreduce of 1 values did "
                "not complete within 6 s on rank 1 on host2 of 3 (epoch 125, iteration 7712); no checkpoint was written yet", 10.0);
    EXPECT_TRUE(failure.lostRankOrHost());
    EXPECT_TRUE(failure.lostHosts().empty());  // rank 1 names only itself
    failure.see("cohort[rank 0]: error: worker 0 failed: lost rank 2 on host3: allreduce of 1 values did not complete within "
                "6 s on rank 0 on host1 of 3 (no answer since) (epoch 125, iteration 7712); last good checkpoint c/x", 11.0);
    EXPECT_EQ(failure.lostHosts(), (std::set<std::string>{"host3"}));
    EXPECT_EQ(failure.iteration(), 7712);
    EXPECT_DOUBLE_EQ(failure.failedAt(), 10.0);
    EXPECT_NE(failure.reason().find("lost rank 2 on host3"), std::string::npos);
    EXPECT_FALSE(failure.diverged());
}

TEST(JobFailure, MpirunsNoticesNameTheHost) {
    JobFailure killed;
    killed.see("mpirun noticed that process rank 1 with PID 4242 on node host2 exited on signal 9 (Killed).", 1.0);
    EXPECT_TRUE(killed.lostRankOrHost());
    EXPECT_EQ(killed.lostHosts(), (std::set<std::string>{"host2"}));
    JobFailure daemon;
    daemon.see("ORTE has lost communication with a remote daemon.", 1.0);
    daemon.see("  HNP daemon   : [[1234,0],0] on node host1", 1.0);
    daemon.see("  Remote daemon: [[1234,0],2] on node host3", 1.0);
    EXPECT_TRUE(daemon.lostRankOrHost());
    EXPECT_EQ(daemon.lostHosts(), (std::set<std::string>{"host3"}));
}

TEST(JobFailure, BadInputAndDivergenceAreNotLosses) {
    JobFailure input;
    input.see("cohort[rank 0]: error: rank 0 on vm: --epochs must be at least 1, got 0 (2 ranks failed to start)", 1.0);
    EXPECT_FALSE(input.lostRankOrHost());
    EXPECT_NE(input.reason().find("--epochs must be"), std::string::npos);
    JobFailure nan;
    nan.see("cohort[rank 0]: error: worker 0 failed: training diverged: the loss became NaN at iteration 2", 1.0);
    nan.see("mpirun noticed that process rank 0 with PID 1 on node vm exited on signal 6 (Aborted).", 2.0);
    EXPECT_TRUE(nan.diverged());
}

TEST(TrainFlags, AreReadAndRemovedInBothSpellings) {
    const std::vector<std::string> arguments = {"train", "--checkpoint-dir", "ckpt", "--resume=old", "--epochs", "3"};
    EXPECT_EQ(trainFlag(arguments, "--checkpoint-dir"), "ckpt");
    EXPECT_EQ(trainFlag(arguments, "--resume"), "old");
    EXPECT_EQ(trainFlag(arguments, "--metrics"), "");
    EXPECT_EQ(withoutTrainFlag(arguments, "--resume"),
              (std::vector<std::string>{"train", "--checkpoint-dir", "ckpt", "--epochs", "3"}));
    EXPECT_EQ(withoutTrainFlag(arguments, "--checkpoint-dir"), (std::vector<std::string>{"train", "--resume=old", "--epochs", "3"}));
}

}  // namespace
}  // namespace cohort::launch
