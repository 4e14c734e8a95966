#include "launch/outputs/ProgressLine.h"

#include <unistd.h>

#include <algorithm>

namespace cohort::launch {

bool isTerminal(std::FILE* stream) { return ::isatty(::fileno(stream)) == 1; }

ProgressLine::ProgressLine(bool enabled, std::FILE* terminal, bool byIteration)
    : enabled_(enabled), terminal_(terminal), byIteration_(byIteration), start_(std::chrono::steady_clock::now()),
      lastDrawn_(start_) {}

ProgressLine::~ProgressLine() { clear(); }

std::string ProgressLine::text(const parallel::ProgressTick& tick, double elapsed, std::int64_t firstIteration,
                               bool byIteration) {
    const double rounds = double(std::max<std::int64_t>(1, tick.rounds));
    const double percent = 100.0 * double(tick.round) / rounds;
    // Steps of this process so far and steps left, both in worker 0's iterations.
    const std::int64_t done = tick.iteration - firstIteration;
    const double left = double(tick.epochs - tick.epoch) * rounds + (rounds - double(tick.round));
    const double stepSeconds = done > 0 ? elapsed / double(done) : 0.0;
    const double perStep = tick.samples > 0 && tick.round > 0 ? double(tick.samples) / double(tick.round) : 0.0;
    const double samplesPerSecond = stepSeconds > 0 ? perStep * double(tick.replicas) / stepSeconds : 0.0;
    const double eta = stepSeconds * left;
    char line[160];
    if (byIteration) {
        const auto total = std::int64_t(tick.epochs) * std::max<std::int64_t>(1, tick.rounds);
        std::snprintf(line, sizeof line, "iteration %lld/%lld %5.1f%%  %.0f tokens/s  loss %.4f  ETA %d:%02d",
                      static_cast<long long>(tick.iteration), static_cast<long long>(total),
                      100.0 * double(tick.iteration) / double(total), samplesPerSecond,
                      tick.samples > 0 ? tick.lossSum / double(tick.samples) : 0.0, int(eta) / 60, int(eta) % 60);
        return line;
    }
    std::snprintf(line, sizeof line, "epoch %d/%d %5.1f%%  %.0f samples/s  loss %.4f  ETA %d:%02d", tick.epoch,
                  tick.epochs, percent, samplesPerSecond, tick.samples > 0 ? tick.lossSum / double(tick.samples) : 0.0,
                  int(eta) / 60, int(eta) % 60);
    return line;
}

void ProgressLine::update(const parallel::ProgressTick& tick) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (firstIteration_ < 0) firstIteration_ = tick.iteration - 1;
    const bool last = tick.round == tick.rounds;
    if (shown_ && !last && now - lastDrawn_ < std::chrono::milliseconds(200)) return;
    lastDrawn_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::fprintf(terminal_, "\r\033[K%s", text(tick, elapsed, firstIteration_, byIteration_).c_str());
    std::fflush(terminal_);
    shown_ = true;
}

void ProgressLine::clear() {
    if (!enabled_ || !shown_) return;
    std::fputs("\r\033[K", terminal_);
    std::fflush(terminal_);
    shown_ = false;
}

}  // namespace cohort::launch
