#pragma once
// The in-process NCCL communicator: the workers of one process spread over distinct GPUs, one
// or several workers per GPU (LocalAveraging::Nccl and SameDeviceThenNccl in parallel/Topology).
//
// Layout: workerDevices[w] is local worker w's CUDA ordinal (ParallelWrapper places workers
// round-robin: roundRobinWorkerDevices below). Workers are grouped by device; every device must
// carry the same number of workers, so the mean of the devices' means is the mean over all
// replicas (std::invalid_argument naming the counts otherwise, raised before any CUDA call). Each
// device's first worker is its leader. One NCCL communicator per distinct device, created together
// with ncclCommInitAll (one clique in this process); ranks follow the devices' order of first
// appearance, so worker 0's device is rank 0.
//
// average(): the workers of one device average through shared memory on that GPU (one local
// communicator per device), the leaders meet and run ncclAllReduce(ncclAvg) in place, each from
// its own thread on its own device and stream, then each leader's result is copied into the other
// buffers of its device. NCCL gives every rank the same bytes, so all replicas end bitwise
// identical. broadcast(): worker 0's bytes go to the other leaders through ncclBroadcast, then to
// every worker of each device. barrier(): every local worker meets.
//
// Waits: the leaders meet on the host before any NCCL kernel starts, so a collective only waits
// for its transfer; completion is polled (cudaStreamQuery, ncclCommGetAsyncError) and bounded by
// `timeoutSeconds`. abort() wakes every waiter (present and future calls throw BarrierAborted); a
// leader polling a collective then gives up and aborts its NCCL communicator (ncclCommAbort). After
// any NCCL failure the destructor aborts the remaining NCCL communicators instead of destroying
// them. Replicas live on different GPUs: sharesReplicaMemory() is false.
//
// The implementation is compiled only with NCCL (COHORT_WITH_NCCL), into the CUDA module
// (memory/CudaModule.h), loaded when the first NCCL communicator is made. This header works in
// every build: without NCCL, ncclCommunicatorCompiledIn() is false and makeNcclCommunicator() checks
// the layout, then throws std::runtime_error saying NCCL is missing.
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parallel/Communicator.h"

namespace cohort::parallel {

// Local worker w's CUDA ordinal under ParallelWrapper's placement: devices[w % devices.size()].
inline std::vector<int> roundRobinWorkerDevices(int workers, const std::vector<int>& devices) {
    std::vector<int> workerDevices;
    if (devices.empty()) return workerDevices;
    for (int w = 0; w < workers; ++w) workerDevices.push_back(devices[std::size_t(w) % devices.size()]);
    return workerDevices;
}

// The number of workers on each device of `workerDevices`. Throws std::invalid_argument for an
// empty list, a CPU worker (-1), or devices that carry different numbers of workers.
inline int workersPerDevice(const std::vector<int>& workerDevices) {
    if (workerDevices.empty()) throw std::invalid_argument("the in-process NCCL communicator needs at least one worker");
    std::vector<std::pair<int, int>> counts;  // (device, workers), in order of first appearance
    for (const int device : workerDevices) {
        if (device < 0) throw std::invalid_argument("the in-process NCCL communicator needs GPU workers, got a CPU worker");
        auto found = counts.begin();
        while (found != counts.end() && found->first != device) ++found;
        if (found == counts.end()) counts.emplace_back(device, 1);
        else ++found->second;
    }
    for (const auto& count : counts) {
        if (count.second == counts.front().second) continue;
        std::string text;
        for (const auto& each : counts) {
            text += (text.empty() ? "" : ", ") + ("GPU " + std::to_string(each.first) + " has " + std::to_string(each.second));
        }
        throw std::invalid_argument("the in-process NCCL communicator needs the same number of workers on every GPU: " + text);
    }
    return counts.front().second;
}

#ifdef COHORT_WITH_NCCL
constexpr bool ncclCommunicatorCompiledIn() { return true; }
// Throws std::invalid_argument for a bad layout (before any CUDA call), std::runtime_error when
// CUDA or NCCL fails to set up.
std::unique_ptr<Communicator> makeNcclCommunicator(const std::vector<int>& workerDevices, double timeoutSeconds = 60.0);
// "nccl 2.28.3 FILE" lines when the CUDA module is loaded (it is not loaded by this call), else "".
std::string ncclLibraries();
#else
constexpr bool ncclCommunicatorCompiledIn() { return false; }
inline std::unique_ptr<Communicator> makeNcclCommunicator(const std::vector<int>& workerDevices, double = 60.0) {
    workersPerDevice(workerDevices);
    throw std::runtime_error("the in-process NCCL communicator needs NCCL, and this cohort was built without it");
}
inline std::string ncclLibraries() { return ""; }
#endif

}  // namespace cohort::parallel
