// Tensors on workspaces: where arrays land, detach/leverage/leverageTo, and the scope-panic
// errors raised by operations (and their absence after the fixes or with checks off).
#include <gtest/gtest.h>

#include "memory/Memory.h"
#include "src/tensor/TensorOps.h"

namespace cohort {
namespace {

using memory::ScopePanicError;
using memory::WorkspaceManager;

class TensorWorkspace : public ::testing::Test {
protected:
    void SetUp() override {
        previous_ = memory::scopePanicChecks();
        memory::setScopePanicChecks(true);
    }
    void TearDown() override {
        memory::setScopePanicChecks(previous_);
        WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    }
    bool previous_ = false;
};

TEST_F(TensorWorkspace, ArraysLandInTheInnermostWorkspaceOrOnTheHeap) {
    auto& manager = WorkspaceManager::forCurrentThread();
    EXPECT_FALSE(Tensor::empty(Shape{4}).isAttached());
    auto outer = manager.getAndActivateWorkspace("OUTER");
    EXPECT_EQ(Tensor::empty(Shape{4}).workspaceName(), "OUTER");
    {
        auto inner = manager.getAndActivateWorkspace("INNER");
        EXPECT_EQ(Tensor::empty(Shape{4}).workspaceName(), "INNER");
        auto outside = manager.scopeOutOfWorkspaces();
        EXPECT_FALSE(Tensor::empty(Shape{4}).isAttached());
        EXPECT_FALSE(Tensor::persistent(Shape{4}).isAttached());
    }
}

TEST_F(TensorWorkspace, LeakedPointerIsReportedWithWorkspaceGenerationAndFix) {
    Tensor leaked;
    {
        auto ws = WorkspaceManager::forCurrentThread().getAndActivateWorkspace("LOOP_EXTERNAL");
        leaked = ops::full(Shape{100}, 1.0);
    }
    try {
        ops::addScalarInPlace(leaked, 1.0);
        FAIL() << "expected a leaked-pointer error";
    } catch (const ScopePanicError& error) {
        const std::string message = error.what();
        EXPECT_EQ(error.kind(), ScopePanicError::Kind::Leaked);
        for (const char* part : {"addi", "leaked", "LOOP_EXTERNAL", "generation", "detach()", "leverage"}) {
            EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
        }
    }
}

TEST_F(TensorWorkspace, OutdatedPointerFromAnEarlierIterationIsReported) {
    Tensor previous;
    bool thrown = false;
    for (int i = 0; i < 3 && !thrown; ++i) {
        auto ws = WorkspaceManager::forCurrentThread().getAndActivateWorkspace("LOOP");
        Tensor current = ops::full(Shape{10}, 1.0);
        if (i > 0) {
            try {
                ops::add(current, previous);
            } catch (const ScopePanicError& error) {
                EXPECT_EQ(error.kind(), ScopePanicError::Kind::Outdated);
                EXPECT_NE(std::string(error.what()).find("outdated"), std::string::npos);
                thrown = true;
            }
        }
        previous = current;
    }
    EXPECT_TRUE(thrown);
}

TEST_F(TensorWorkspace, DetachLeverageAndLeverageToKeepArraysValid) {
    auto& manager = WorkspaceManager::forCurrentThread();
    Tensor detached;
    {
        auto outer = manager.getAndActivateWorkspace("OUTER");
        Tensor leveraged, named;
        {
            auto inner = manager.getAndActivateWorkspace("INNER");
            Tensor temp = ops::full(Shape{50}, 2.0);
            detached = temp.detach();
            leveraged = temp.leverage();
            named = temp.leverageTo("OUTER");
            EXPECT_THROW(temp.leverageTo("NOT_ACTIVE"), std::logic_error);
        }
        EXPECT_EQ(leveraged.workspaceName(), "OUTER");
        EXPECT_EQ(named.workspaceName(), "OUTER");
        EXPECT_DOUBLE_EQ(ops::sum(leveraged), 100.0);  // valid after INNER closed
        EXPECT_DOUBLE_EQ(ops::sum(named), 100.0);
    }
    EXPECT_FALSE(detached.isAttached());
    ops::addScalarInPlace(detached, 1.0);
    EXPECT_DOUBLE_EQ(ops::sum(detached), 150.0);
}

TEST_F(TensorWorkspace, ChecksSwitchedOffCostNothingAndRaiseNothing) {
    Tensor leaked;
    {
        auto ws = WorkspaceManager::forCurrentThread().getAndActivateWorkspace("WS");
        leaked = ops::full(Shape{10}, 1.0);
    }
    memory::setScopePanicChecks(false);
    EXPECT_NO_THROW(leaked.checked("op", "X"));
    memory::setScopePanicChecks(true);
    EXPECT_THROW(leaked.checked("op", "X"), ScopePanicError);
}

TEST_F(TensorWorkspace, ReshapeAndSliceShareStorage) {
    Tensor t = Tensor::persistent(Shape{4, 3});
    for (int i = 0; i < 12; ++i) t.data<float>()[i] = float(i);
    Tensor rows = t.slice(1, 3);
    EXPECT_EQ(rows.shape(), (Shape{2, 3}));
    EXPECT_EQ(rows.data<float>()[0], 3.0f);
    EXPECT_EQ(t.reshape(Shape{12}).data<float>(), t.data<float>());
    EXPECT_THROW(t.reshape(Shape{5}), std::invalid_argument);
    EXPECT_THROW(t.slice(3, 5), std::out_of_range);
}

}  // namespace
}  // namespace cohort
