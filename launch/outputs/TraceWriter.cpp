#include "launch/outputs/TraceWriter.h"

#include <cstdint>
#include <cstdio>

#include "launch/outputs/MetricsWriter.h"
#include "launch/outputs/OutputFile.h"

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
    // One thread per track: the workers' (tid = worker), then their communication threads'
    // (tid = workers + worker) where they have one.
    auto addTrack = [&](int tid, const std::string& name, const std::vector<parallel::Span>& spans, std::int64_t dropped) {
        const std::string id = std::to_string(tid);
        add("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + id + ",\"args\":{\"name\":" +
            jsonString(name) + "}}");
        add("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + id +
            ",\"args\":{\"sort_index\":" + id + "}}");
        for (const parallel::Span& span : spans) {
            const std::string common = "\"name\":\"" + std::string(parallel::toString(span.kind)) + "\",\"cat\":\"" +
                                       (span.kind == parallel::SpanKind::EpochEnd ? "epoch" : "worker") +
                                       "\",\"pid\":" + pid + ",\"tid\":" + id + ",\"ts\":" + microseconds(span.begin) +
                                       ",\"args\":{\"epoch\":" + std::to_string(span.epoch) +
                                       ",\"iteration\":" + std::to_string(span.iteration) + "}";
            if (span.kind == parallel::SpanKind::EpochEnd) {
                add("{" + common + ",\"ph\":\"i\",\"s\":\"p\"}");
            } else {
                add("{" + common + ",\"ph\":\"X\",\"dur\":" + microseconds(span.end - span.begin) + "}");
            }
        }
        if (dropped > 0) {
            add("{\"name\":\"trace full\",\"ph\":\"i\",\"s\":\"t\",\"pid\":" + pid + ",\"tid\":" + id +
                ",\"ts\":" + microseconds(spans.empty() ? 0.0 : spans.back().end) +
                ",\"args\":{\"spans_not_kept\":" + std::to_string(dropped) + "}}");
        }
    };
    const int workers = recorder.workers();
    for (int worker = 0; worker < workers; ++worker) {
        addTrack(worker, "worker " + std::to_string(worker) + " (" + labels.device + ")", recorder.spans(worker),
                 recorder.dropped(worker));
    }
    for (int worker = 0; worker < workers; ++worker) {
        if (!recorder.hasCommunicationTrack(worker)) continue;
        addTrack(workers + worker, "worker " + std::to_string(worker) + " communication", recorder.communicationSpans(worker),
                 recorder.communicationDropped(worker));
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
