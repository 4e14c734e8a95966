// cohort report METRICS.jsonl [-o report.html]: the HTML report of a run from its --metrics file
// (finished, stopped, failed, or still being written).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "launch/commands/Commands.h"
#include "launch/outputs/HtmlReport.h"
#include "launch/outputs/OutputFile.h"
#include "src/core/Errors.h"
#include "src/core/FileKind.h"

namespace cohort::launch {

namespace {

// A line the report can use: a JSON object with an "event" name (what --metrics writes).
bool isEvent(const std::string& line) {
    const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    return value.is_object() && value.contains("event") && value["event"].is_string();
}

}  // namespace

int runReport(const RunOptions& options) {
    if (options.reportInput.empty()) throw InputError("cohort report needs a metrics file: cohort report run.jsonl -o run.html");
    if (const std::string why = whyNotRegularFile(options.reportInput); !why.empty())
        throw InputError("cannot read metrics file " + options.reportInput + ": it " + why);
    std::ifstream in(options.reportInput);
    if (!in) throw InputError("cannot read metrics file " + options.reportInput);
    refuseInputAsOutput(options.outputPath, "-o", {options.reportInput});
    checkOutputFile(options.outputPath, "-o");
    std::vector<std::string> lines;
    std::size_t skipped = 0;
    for (std::string line; std::getline(in, line);) {
        if (isEvent(line)) lines.push_back(line);
        else if (!line.empty()) ++skipped;
    }
    if (lines.empty() && skipped == 0) throw InputError("metrics file " + options.reportInput + " is empty");
    if (lines.empty()) {
        throw InputError("metrics file " + options.reportInput + " has no event: none of its " + std::to_string(skipped) +
                         " lines is a JSON object with an \"event\" (is it a cohort --metrics file?)");
    }
    writeReport(options.outputPath, lines, chartJsSource());
    std::printf("report: %s (%zu events from %s", options.outputPath.c_str(), lines.size(), options.reportInput.c_str());
    if (skipped > 0) std::printf("; skipped %zu line%s that %s not an event", skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
    std::printf(")\n");
    return 0;
}

}  // namespace cohort::launch
