// The workspace walk-through of the ND4J memory guide, in cohort:
// manual workspace use, the two scope-panic errors, and the three fixes.
//   ./build/examples/example_workspaces
#include <cstdio>

#include "memory/Memory.h"
#include "src/tensor/TensorOps.h"

using namespace cohort;
using memory::WorkspaceManager;

namespace {

void expectPanic(const char* what, void (*body)()) {
    try {
        body();
        std::printf("%-28s no error (unexpected)\n", what);
    } catch (const memory::ScopePanicError& error) {
        std::printf("%-28s %s\n", what, error.what());
    }
}

}  // namespace

int main() {
    memory::setScopePanicChecks(true);  // on by default only in debug builds
    auto& workspaces = WorkspaceManager::forCurrentThread();

    // 1. Manual use: arrays made inside a scope live in the workspace.
    {
        auto ws = workspaces.getAndActivateWorkspace("MY_WORKSPACE");
        Tensor array = Tensor::empty(Shape{1000, 1000});
        std::printf("array in workspace [%s]\n", array.workspaceName().c_str());
    }

    // 2. A loop: after the first iteration the same memory is reused, nothing is allocated.
    std::uint64_t before = 0;
    for (int i = 0; i < 100; ++i) {
        if (i == 1) before = memory::systemAllocationCount();
        auto ws = workspaces.getAndActivateWorkspace("LOOP_WS");
        Tensor temp = ops::full(Shape{1000, 1000}, 1.0);
    }
    std::printf("system allocations in iterations 1..99: %llu\n",
                static_cast<unsigned long long>(memory::systemAllocationCount() - before));

    // 3. Leaked pointer: an array used after its workspace scope closed.
    expectPanic("leaked pointer:", [] {
        Tensor leaked;
        {
            auto ws = WorkspaceManager::forCurrentThread().getAndActivateWorkspace("WS");
            leaked = Tensor::empty(Shape{100});
        }
        ops::addScalarInPlace(leaked, 1.0);
    });

    // 4. Outdated pointer: an array from a previous iteration of a workspace loop.
    expectPanic("outdated pointer:", [] {
        Tensor fromPreviousIteration;
        for (int i = 0; i < 10; ++i) {
            auto ws = WorkspaceManager::forCurrentThread().getAndActivateWorkspace("WS");
            Tensor current = ops::full(Shape{100}, 1.0);
            if (fromPreviousIteration.defined() && fromPreviousIteration.elementCount() > 0) {
                current = ops::add(current, fromPreviousIteration);
            }
            fromPreviousIteration = current;
        }
    });

    // Fix 1: detach() copies the array out of the workspace.
    Tensor safe;
    {
        auto ws = workspaces.getAndActivateWorkspace("WS");
        Tensor temp = ops::full(Shape{100}, 1.0);
        safe = temp.detach();
    }
    ops::addScalarInPlace(safe, 1.0);
    std::printf("fix 1, detach():              sum = %.0f\n", ops::sum(safe));

    // Fix 2: allocate outside any workspace with scopeOutOfWorkspaces().
    Tensor heapArray;
    {
        auto ws = workspaces.getAndActivateWorkspace("WS");
        auto outside = workspaces.scopeOutOfWorkspaces();
        heapArray = ops::full(Shape{100}, 2.0);
    }
    ops::addScalarInPlace(heapArray, 1.0);
    std::printf("fix 2, scopeOutOfWorkspaces(): sum = %.0f\n", ops::sum(heapArray));

    // Fix 3: leverage() moves the array to the enclosing workspace (or leverageTo("OUTER")).
    {
        auto outer = workspaces.getAndActivateWorkspace("OUTER");
        Tensor migrated, named;
        {
            auto inner = workspaces.getAndActivateWorkspace("INNER");
            Tensor temp = ops::full(Shape{100}, 3.0);
            migrated = temp.leverage();
            named = temp.leverageTo("OUTER");
        }
        ops::addScalarInPlace(migrated, 1.0);
        std::printf("fix 3, leverage():            sum = %.0f in [%s]; leverageTo: [%s]\n", ops::sum(migrated),
                    migrated.workspaceName().c_str(), named.workspaceName().c_str());
    }

    std::printf("\n%s", workspaces.printAllocationStatistics().c_str());
    workspaces.destroyAllWorkspacesForCurrentThread();
    return 0;
}
