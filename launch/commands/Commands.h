#pragma once
// The subcommands of the cohort executable. Each returns the process exit code; errors are
// thrown and turned into one line on stderr by main().
#include <string>
#include <vector>

#include "launch/job/MpiEnvironment.h"
#include "launch/options/Options.h"

namespace cohort::launch {

// `mpi`: this process's place in an mpirun job (a single process when not launched by mpirun).
int runTrain(const RunOptions& options, MpiEnvironment& mpi);
int runInfo(const RunOptions& options, MpiEnvironment& mpi);
int runBench(const RunOptions& options);
int runPlan(const RunOptions& options, MpiEnvironment& mpi);
int runEvaluate(const RunOptions& options);
int runGenerate(const RunOptions& options);
int runReport(const RunOptions& options);
// cohort launch: its own flags, then "--" and the train flags of the job it supervises.
int runLaunch(const std::vector<std::string>& arguments);

// Shared by train/evaluate/bench: loads the data set the flags name (normalised with the
// training split's statistics).
struct LoadedData;

}  // namespace cohort::launch
