// cohort report METRICS.jsonl [-o report.html]: the HTML report of a run from its --metrics file
// (finished, stopped, failed, or still being written).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "launch/commands/Commands.h"
#include "launch/outputs/HtmlReport.h"
#include "launch/outputs/OutputFile.h"
#include "src/core/Errors.h"
#include "src/core/FileKind.h"

namespace cohort::launch {

int runReport(const RunOptions& options) {
    if (options.reportInput.empty()) throw InputError("cohort report needs a metrics file: cohort report run.jsonl -o run.html");
    if (const std::string why = whyNotRegularFile(options.reportInput); !why.empty())
        throw InputError("cannot read metrics file " + options.reportInput + ": it " + why);
    std::ifstream in(options.reportInput);
    if (!in) throw InputError("cannot read metrics file " + options.reportInput);
    refuseInputAsOutput(options.outputPath, "-o", {options.reportInput});
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.empty()) throw InputError("metrics file " + options.reportInput + " is empty");
    writeReport(options.outputPath, lines, chartJsSource());
    std::printf("report: %s (%zu events from %s)\n", options.outputPath.c_str(), lines.size(), options.reportInput.c_str());
    return 0;
}

}  // namespace cohort::launch
