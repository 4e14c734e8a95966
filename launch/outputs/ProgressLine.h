#pragma once
// The progress line of `cohort train` on a terminal: rewritten in place on stderr (at most five
// times a second) with the epoch, its percentage, samples/s, the epoch's loss so far and the time
// left. Only when stderr is a terminal, the run is not --quiet and this is rank 0; off a terminal
// there is nothing but the epoch lines, and nothing of it reaches --metrics.
#include <chrono>
#include <cstdio>
#include <string>

#include "parallel/ParallelListener.h"

namespace cohort::launch {

class ProgressLine {
public:
    // `byIteration`: a language model's run, counted in iterations and tokens, not epochs and samples.
    explicit ProgressLine(bool enabled, std::FILE* terminal = stderr, bool byIteration = false);
    ~ProgressLine();
    bool enabled() const { return enabled_; }

    void update(const parallel::ProgressTick& tick);
    // Erases the line before other output is printed (the next update draws it again).
    void clear();

    // The text of a line for `tick`, `elapsed` seconds into the run (for tests).
    static std::string text(const parallel::ProgressTick& tick, double elapsed, std::int64_t firstIteration,
                            bool byIteration = false);

private:
    bool enabled_;
    std::FILE* terminal_;
    bool byIteration_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point start_, lastDrawn_;
    std::int64_t firstIteration_ = -1;  // of this process (a resumed run starts later)
};

// True when `stream` is a terminal.
bool isTerminal(std::FILE* stream);

}  // namespace cohort::launch
