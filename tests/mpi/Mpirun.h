#pragma once
// mpirun as the multi-process tests launch it: found on PATH (empty when absent, and the test
// skips), with what a shared 2-core CI machine needs (--oversubscribe, --bind-to none, and
// --allow-run-as-root as root); `tcp` forces the transport that crosses nodes, kept on loopback.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "launch/CohortProcess.h"

namespace cohort::testing_support {

inline std::string findMpirun() {
    const char* path = std::getenv("PATH");
    std::istringstream directories(path ? path : "");
    for (std::string directory; std::getline(directories, directory, ':');) {
        const std::filesystem::path candidate = std::filesystem::path(directory) / "mpirun";
        if (!directory.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "";
}

inline bool cohortHasMpi() {
    const ProcessResult info = runCohort("info");
    return info.out.find(", mpi") != std::string::npos;
}

inline std::string mpirun(int processes, bool tcp = false) {
    std::string command = findMpirun() + " -np " + std::to_string(processes) + " --oversubscribe --bind-to none";
    if (::geteuid() == 0) command += " --allow-run-as-root";
    if (tcp) command += " --mca btl self,tcp --mca btl_tcp_if_include lo";
    return command;
}

}  // namespace cohort::testing_support
