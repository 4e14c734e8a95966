// cohort: the command-line entry point. Dispatches the subcommand and turns every error into one
// line on stderr with exit code 2 (bad input) or 1 (any other failure).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "launch/Commands.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"

namespace {

std::string oneLine(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace cohort;
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
    try {
        const auto options = launch::parseOptions(subcommand, arguments);
        if (!options) return 0;  // --help
        if (subcommand == "train") return launch::runTrain(*options);
        if (subcommand == "info") return launch::runInfo(*options);
        throw InputError("subcommand '" + subcommand + "' is not available yet in this build");
    } catch (const InputError& error) {
        std::fprintf(stderr, "cohort: error: %s\n", oneLine(error.what()).c_str());
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "cohort: error: %s\n", oneLine(error.what()).c_str());
        return 1;
    }
}
