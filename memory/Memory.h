#pragma once
// memory/ — the contract of the memory module.
//
// * System allocators (host aligned, pinned host, device per GPU) hand out raw blocks. Every call
//   is counted (systemAllocationCount) and every byte is charged to the MemoryBudget, which
//   enforces maxBytes (per location kind) and maxPhysicalBytes (the process RSS, read from
//   the OS). Exceeding either throws BudgetExceededError naming the budget.
// * A Workspace is a memory arena reused cycle after cycle (ND4J semantics: allocation, learning,
//   spill and reset policies). Each thread has its own WorkspaceManager; activating a workspace
//   returns an RAII WorkspaceScope, scopes nest, and the innermost active one receives
//   allocations made through allocateInCurrentScope().
// * Every workspace allocation carries a WorkspaceTicket (workspace, generation, offset); a ticket
//   can be checked at use time and throws ScopePanicError for leaked or outdated pointers.
//
// This module knows nothing about tensors, layers or other threads' workspaces.
#include "memory/MemoryBudget.h"
#include "memory/SystemAllocator.h"
#include "memory/Workspace.h"
#include "memory/WorkspaceManager.h"
