// cohort: the command-line entry point. Dispatches the subcommand and turns every error into one
// line on stderr with exit code 2 (bad input) or 1 (any other failure).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "kernels/cpu/OpenBlasCore.h"
#include "launch/commands/Commands.h"
#include "launch/job/ConfigurationAgreement.h"
#include "launch/options/Flags.h"
#include "launch/job/MpiEnvironment.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"

namespace {

std::string oneLine(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return text;
}

// OpenBLAS chose its kernels when it loaded; if it fell back to generic ones on a CPU it does not
// know (kernels/cpu/OpenBlasCore.h), start again with OPENBLAS_CORETYPE naming the kernel set
// this CPU supports. Once: the variable, set or inherited, is never overridden.
void matchOpenBlasToTheCpu(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
    const cohort::kernels::OpenBlasCore core = cohort::kernels::openBlasCore();
    if (core.recommended.empty()) return;
    ::setenv("OPENBLAS_CORETYPE", core.recommended.c_str(), 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the generic kernels
}

}  // namespace

int main(int argc, char** argv) {
    using namespace cohort;
    matchOpenBlasToTheCpu(argv);
    std::vector<std::string> arguments(argv + 1, argv + argc);
    if (arguments.empty() || arguments[0] == "--help" || arguments[0] == "-h" || arguments[0] == "help") {
        std::fputs(launch::usageText().c_str(), arguments.empty() ? stderr : stdout);
        return arguments.empty() ? 2 : 0;
    }
    if (arguments[0] == "--version") {
        std::printf("cohort %s\n", COHORT_VERSION);
        return 0;
    }
    const std::string subcommand = arguments[0];
    arguments.erase(arguments.begin());
    // Under mpirun: MPI is initialised for the subcommands that use it and finalised when `mpi`
    // goes out of scope. An error only this rank saw must not leave the others waiting, so it
    // ends the job with MPI_Abort after the error line; an error every rank raised together (a
    // configuration mismatch) ends normally on every rank.
    std::optional<launch::MpiEnvironment> mpi;
    const std::string prefix = launch::messagePrefix();
    auto fail = [&](const std::exception& error, int code) {
        std::fprintf(stderr, "%s: error: %s\n", prefix.c_str(), oneLine(launch::messageInFlags(error)).c_str());
        if (mpi) mpi->abortJob(code);
        return code;
    };
    try {
        if (subcommand == "launch") return launch::runLaunch(arguments);  // its own flags, then the job's
        const auto options = launch::parseOptions(subcommand, arguments);
        if (!options) return 0;  // --help
        if (subcommand == "train" || subcommand == "info" || subcommand == "plan") mpi.emplace(true);
        if (subcommand == "train") return launch::runTrain(*options, *mpi);
        if (subcommand == "info") return launch::runInfo(*options, *mpi);
        if (subcommand == "bench") return launch::runBench(*options);
        if (subcommand == "plan") return launch::runPlan(*options, *mpi);
        if (subcommand == "evaluate") return launch::runEvaluate(*options);
        if (subcommand == "generate") return launch::runGenerate(*options);
        if (subcommand == "report") return launch::runReport(*options);
        throw InputError("subcommand '" + subcommand + "' is not available yet in this build");
    } catch (const launch::AgreedFailure& error) {  // every rank agreed: no MPI_Abort needed
        std::fprintf(stderr, "%s: error: %s\n", prefix.c_str(), oneLine(error.what()).c_str());
        return error.exitCode();
    } catch (const InputError& error) {
        return fail(error, 2);
    } catch (const std::exception& error) {
        return fail(error, 1);
    }
}
