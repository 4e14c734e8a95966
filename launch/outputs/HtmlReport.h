#pragma once
// The HTML report of a run: one self-contained file (Chart.js inlined, no network: its
// Content-Security-Policy forbids any request) drawn from the --metrics events, which are the one
// record of a run. `cohort report METRICS.jsonl -o report.html` renders a finished (or stopped,
// or failed, or still running) run's file; `cohort train --report PATH` rewrites it atomically
// at every epoch end and when the run ends.
//
// Charts: train/test loss and accuracy per epoch; samples/s per worker and in total; each
// worker's time split (computing, waiting for data, waiting at averaging points, averaging);
// averaging cost per point; workspace memory per workspace and the process peak per epoch. A
// confusion matrix when the run's last evaluation has one. A header with the configuration, the
// machine, the final result and how the run ended.
//
// The page checks itself once drawn: every canvas holds pixels, no script error, no blocked
// request; the result is in <pre id="report-check"> (hidden) for tests and headless browsers.
#include <string>
#include <vector>

namespace cohort::launch {

// The installed Chart.js (libjs-chart.js); COHORT_CHARTJS in the environment overrides it.
// Throws InputError naming the package when it is missing.
std::string chartJsSource();

// The report of a run from its --metrics lines (JSON objects, one per line).
std::string renderReport(const std::vector<std::string>& metricsLines, const std::string& chartJs);

// Renders `lines` and writes the report atomically (a temporary file renamed over `path`).
void writeReport(const std::string& path, const std::vector<std::string>& lines, const std::string& chartJs);

}  // namespace cohort::launch
