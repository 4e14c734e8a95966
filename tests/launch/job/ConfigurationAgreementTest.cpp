// The start-up agreement of an mpirun job, for one process (several run under mpirun in tests/mpi/).
#include <gtest/gtest.h>

#include <string>

#include "launch/job/ConfigurationAgreement.h"

namespace cohort::launch {
namespace {

TEST(ConfigurationAgreement, OneProcessAlwaysAgrees) {
    class Alone final : public parallel::ProcessGroup {
    public:
        int rank() const override { return 0; }
        int size() const override { return 1; }
        std::string name() const override { return "alone"; }
        void allreduceSum(kernels::DType, void*, std::int64_t) override { FAIL() << "no collective for one process"; }
        void broadcast(void*, std::size_t, int) override { FAIL() << "no collective for one process"; }
        void barrier() override {}
        void abort(const std::string&) override {}
    } alone;
    EXPECT_NO_THROW(agreeOnSettings(alone, "lr=0.05\n"));
}

}  // namespace
}  // namespace cohort::launch
