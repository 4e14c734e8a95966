#pragma once
// What `cohort plan` measures on this machine: the training step of W workers running at once (as
// a training run runs them, sharing the cores) and the in-process part of averaging their
// replicas, with the communicator a run of the planned layout would use (across processes: the
// hierarchical one, whose link is left out here because the link model prices it); and, under
// mpirun, the allreduce between the job's processes that averaging uses, timed over a range of
// sizes for the link fit.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "launch/measure/TimedTrainingStep.h"
#include "memory/Memory.h"
#include "parallel/Communicator.h"
#include "parallel/ScalingModel.h"

namespace cohort::launch {

struct WorkerMeasurementPlan {
    StepRecipe recipe;
    std::vector<MemoryLocation> locations;  // one per worker of a process (round-robin over GPUs)
    std::vector<int> devices;                // the process's GPUs (empty on the CPU)
    int processesOnThisMachine = 1;          // groups of workers run at once here (emulated ranks of one host)
    int threadsPerWorker = 1;
    int plannedProcesses = 1;                // P of the plan: > 1 averages through the hierarchical communicator
    bool averageUpdaters = true;
    bool measureSteps = true;
    bool measureAveraging = true;
    int warmupSteps = 10;
    int steps = 50;
    int repeats = 5;
    int averagingRepeats = 5;
};

struct WorkerMeasurement {
    std::string modelText, backendText, optimizerText;
    std::int64_t parameterCount = 0;
    std::int64_t stateCount = 0;       // optimizer state elements
    std::int64_t statisticsCount = 0;  // batch-norm running statistics
    // Medians over repeats of the slowest worker of each repeat (0 when not measured).
    double stepSeconds = 0.0;
    double parameterAveragingSeconds = 0.0;
    double stateAveragingSeconds = 0.0;  // 0 when the state is not averaged
    double statisticsAveragingSeconds = 0.0;
};

// Runs locations.size() × processesOnThisMachine threads, each with its own TimedTrainingStep.
// A failing thread wakes the others; the first error is rethrown.
WorkerMeasurement measureWorkers(const WorkerMeasurementPlan& plan);

// Median seconds of `processes.allreduceSum` of float32 buffers from 8 bytes to `largestBytes`
// (every fourth power of two), each size after a barrier; collective: every rank calls it,
// each with its own timings (rank 0's are the ones a planner reports).
std::vector<parallel::LinkSample> probeAllreduce(parallel::ProcessGroup& processes, std::int64_t largestBytes);

// The largest of every rank's `value` (collective).
double maxOverProcesses(parallel::ProcessGroup& processes, double value);

}  // namespace cohort::launch
