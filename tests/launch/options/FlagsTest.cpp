// launch/Flags: flag values to enums, settings to flags, errors respelled in flags.
#include "launch/options/Flags.h"

#include <gtest/gtest.h>

#include "memory/Memory.h"
#include "parallel/ParallelWrapper.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

TEST(Flags, ValuesBecomeEnumsAndUnknownValuesNameTheFlagAndTheChoices) {
    EXPECT_EQ(parseOptimizerKind("nesterov"), optim::OptimizerKind::Nesterov);
    EXPECT_EQ(parseScheduleKind("constant"), optim::ScheduleKind::Constant);
    EXPECT_EQ(parseTrainingMode("shared-gradients"), parallel::TrainingMode::SharedGradients);
    EXPECT_EQ(parseWorkspaceMode("none"), train::WorkspaceMode::None);
    EXPECT_EQ(parseHiddenSizes("64,32"), (std::vector<std::int64_t>{64, 32}));
    auto message = [](auto parse) {
        try {
            parse();
        } catch (const InputError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message([] { parseOptimizerKind("rmsprop"); }), "unknown --optimizer 'rmsprop'; choose sgd, nesterov or adam");
    EXPECT_EQ(message([] { parseScheduleKind("linear"); }), "unknown --lr-schedule 'linear'; choose constant or cosine");
    EXPECT_EQ(message([] { parseTrainingMode("async"); }),
              "unknown --training-mode 'async'; choose averaging or shared-gradients");
    EXPECT_EQ(message([] { parseWorkspaceMode("sometimes"); }), "unknown --workspace-mode 'sometimes'; choose enabled or none");
    EXPECT_NE(message([] { parseHiddenSizes("10,,20"); }).find("bad --hidden '10,,20'"), std::string::npos);
}

TEST(Flags, SettingErrorsAreRespelledAsFlags) {
    const SettingError error("{learningRate} must be positive; lower {batchSize} or {workers}");
    EXPECT_STREQ(error.what(), "learningRate must be positive; lower batchSize or workers");
    EXPECT_EQ(error.setting(), "learningRate");
    EXPECT_EQ(messageInFlags(error), "--lr must be positive; lower --batch-size or --workers");
    EXPECT_EQ(flagFor("timeoutSeconds"), "--mpi-timeout");
    EXPECT_EQ(flagFor("notASetting"), "notASetting");  // unknown settings keep their name
    const std::runtime_error plain("nothing to respell {here}");
    EXPECT_EQ(messageInFlags(plain), "nothing to respell {here}");
}

TEST(Flags, AWorkersFailureIsDescribedWithItsCauseInFlags) {
    std::exception_ptr cause;
    try {
        throw memory::BudgetExceededError("maxBytes", "exceeded: cannot allocate 4.0 MiB on host (in use 0 B, limit 1.0 MiB)");
    } catch (...) {
        cause = std::current_exception();
    }
    const parallel::WorkerError error(1, "maxBytes exceeded: ...", cause, " (epoch 1, iteration 7)");
    EXPECT_EQ(messageInFlags(error),
              "worker 1 failed: --maxbytes exceeded: cannot allocate 4.0 MiB on host (in use 0 B, limit 1.0 MiB); "
              "raise --maxbytes or reduce --batch-size/--hidden (epoch 1, iteration 7)");
    const parallel::WorkerError noCause(0, "aborted");
    EXPECT_EQ(messageInFlags(noCause), "worker 0 failed: aborted");
}

}  // namespace
}  // namespace cohort::launch
