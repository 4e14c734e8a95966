#pragma once
// Runs the built `cohort` executable (path from the COHORT_BINARY environment variable that
// ctest sets) and captures its exit code, stdout and stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cohort::testing_support {

struct ProcessResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

inline std::string cohortBinary() {
    const char* path = std::getenv("COHORT_BINARY");
    return path ? path : "cohort";
}

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// `arguments` is appended to the command line verbatim (shell syntax).
inline ProcessResult runCohort(const std::string& arguments, const std::string& environment = "") {
    static int counter = 0;
    const auto base = std::filesystem::temp_directory_path() /
                      ("cohort_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    const std::string command = environment + " " + cohortBinary() + " " + arguments + " >" + base.string() +
                                ".out 2>" + base.string() + ".err </dev/null";
    const int status = std::system(command.c_str());
    ProcessResult result;
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = slurp(base.string() + ".out");
    result.err = slurp(base.string() + ".err");
    std::filesystem::remove(base.string() + ".out");
    std::filesystem::remove(base.string() + ".err");
    return result;
}

inline int lineCount(const std::string& text) {
    int lines = 0;
    for (char c : text) lines += c == '\n';
    return lines + (!text.empty() && text.back() != '\n');
}

// `cohort <arguments>` refused as bad input: exit 2 and one line on stderr that mentions `text`.
inline ProcessResult expectInputError(const std::string& arguments, const std::string& text,
                                      const std::string& environment = "") {
    const ProcessResult result = runCohort(arguments, environment);
    EXPECT_EQ(result.exitCode, 2) << arguments << "\nstderr: " << result.err;
    EXPECT_EQ(lineCount(result.err), 1) << arguments << "\nstderr: " << result.err;
    EXPECT_NE(result.err.find(text), std::string::npos) << arguments << "\nstderr: " << result.err;
    return result;
}

}  // namespace cohort::testing_support
