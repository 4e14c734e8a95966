#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "memory/Memory.h"

namespace cohort::memory {
namespace {

void expectInvalid(const WorkspaceConfig& config, const std::string& field) {
    try {
        config.validate();
        FAIL() << "accepted a config with a bad " << field;
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
    }
}

TEST(WorkspaceConfigTest, DefaultsAreValid) {
    EXPECT_NO_THROW(WorkspaceConfig{}.validate());
    WorkspaceConfig overTime;
    overTime.policyLearning = LearningPolicy::OverTime;
    overTime.cyclesBeforeInitialization = 5;
    EXPECT_NO_THROW(overTime.validate());
}

TEST(WorkspaceConfigTest, ImpossibleCombinationsNameTheField) {
    WorkspaceConfig config;
    config.minSize = 2048;
    config.maxSize = 1024;
    expectInvalid(config, "maxSize");

    config = {};
    config.overallocationLimit = -0.5;
    expectInvalid(config, "overallocationLimit");
    config.overallocationLimit = std::nan("");
    expectInvalid(config, "overallocationLimit");

    config = {};
    config.policyLearning = LearningPolicy::OverTime;
    expectInvalid(config, "cyclesBeforeInitialization");
    config.cyclesBeforeInitialization = -1;
    expectInvalid(config, "cyclesBeforeInitialization");

    config = {};
    config.location = MemoryLocation::onDevice(-1);
    expectInvalid(config, "location");
}

TEST(WorkspaceConfigTest, EqualityComparesEveryField) {
    WorkspaceConfig a;
    WorkspaceConfig b;
    EXPECT_EQ(a, b);
    b.overallocationLimit = 0.1;
    EXPECT_NE(a, b);
    b = a;
    b.location = MemoryLocation::pinnedHost();
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace cohort::memory
