#include "launch/TraceWriter.h"

#include <cstdint>
#include <cstdio>

#include "launch/MetricsWriter.h"
#include "launch/OutputFile.h"

namespace cohort::launch {
namespace {

std::string microseconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", seconds * 1e6);
    return text;
}

}  // namespace

std::string traceEvents(const parallel::TraceRecorder& recorder, const TraceLabels& labels) {
    std::string events;
    auto add = [&](const std::string& event) {
        if (!events.empty()) events += ",\n";
        events += event;
    };
    const std::string pid = std::to_string(labels.rank);
    add("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"args\":{\"name\":" +
        jsonString("rank " + pid + " on " + labels.host) + "}}");
    for (int worker = 0; worker < recorder.workers(); ++worker) {
        const std::string tid = std::to_string(worker);
        add("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + tid + ",\"args\":{\"name\":" +
            jsonString("worker " + tid + " (" + labels.device + ")") + "}}");
        add("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + tid +
            ",\"args\":{\"sort_index\":" + tid + "}}");
        for (const parallel::Span& span : recorder.spans(worker)) {
            const std::string common = "\"name\":\"" + std::string(parallel::toString(span.kind)) + "\",\"cat\":\"" +
                                       (span.kind == parallel::SpanKind::EpochEnd ? "epoch" : "worker") +
                                       "\",\"pid\":" + pid + ",\"tid\":" + tid + ",\"ts\":" + microseconds(span.begin) +
                                       ",\"args\":{\"epoch\":" + std::to_string(span.epoch) +
                                       ",\"iteration\":" + std::to_string(span.iteration) + "}";
            if (span.kind == parallel::SpanKind::EpochEnd) {
                add("{" + common + ",\"ph\":\"i\",\"s\":\"p\"}");
            } else {
                add("{" + common + ",\"ph\":\"X\",\"dur\":" + microseconds(span.end - span.begin) + "}");
            }
        }
        if (recorder.dropped(worker) > 0) {
            add("{\"name\":\"trace full\",\"ph\":\"i\",\"s\":\"t\",\"pid\":" + pid + ",\"tid\":" + tid +
                ",\"ts\":" + microseconds(recorder.spans(worker).empty() ? 0.0 : recorder.spans(worker).back().end) +
                ",\"args\":{\"spans_not_kept\":" + std::to_string(recorder.dropped(worker)) + "}}");
        }
    }
    return events;
}

void writeTrace(const std::string& path, const parallel::TraceRecorder& recorder, const TraceLabels& labels,
                parallel::ProcessGroup* processes) {
    std::string events = traceEvents(recorder, labels);
    if (processes && processes->size() > 1) {
        std::string all;
        for (int rank = 0; rank < processes->size(); ++rank) {
            std::string theirs = rank == processes->rank() ? events : std::string();
            std::uint64_t length = theirs.size();
            processes->broadcast(&length, sizeof length, rank);
            theirs.resize(std::size_t(length));
            if (length > 0) processes->broadcast(theirs.data(), theirs.size(), rank);
            all += (all.empty() || theirs.empty() ? "" : ",\n") + theirs;
        }
        if (processes->rank() != 0) return;
        events = std::move(all);
    }
    OutputFile file(path, "--trace");
    file.writeLine("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"cohort\"},\"traceEvents\":[\n" + events + "\n]}");
}

}  // namespace cohort::launch
