#pragma once
// A reusable barrier for the worker threads of one process that can be aborted: when any worker
// fails, abort() wakes every waiter (present and future) with BarrierAborted instead of leaving
// them blocked forever. Waits can also be bounded in time.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

namespace cohort::parallel {

class BarrierAborted : public std::runtime_error {
public:
    explicit BarrierAborted(const std::string& reason) : std::runtime_error(reason) {}
};

class AbortableBarrier {
public:
    explicit AbortableBarrier(int participants) : participants_(participants) {}

    // Blocks until all participants arrived (returns true for exactly one of them, the last to
    // arrive) or throws BarrierAborted.
    bool arriveAndWait() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (aborted_) throw BarrierAborted(reason_);
        const std::uint64_t generation = generation_;
        if (++arrived_ == participants_) {
            arrived_ = 0;
            ++generation_;
            changed_.notify_all();
            return true;
        }
        changed_.wait(lock, [&] { return generation_ != generation || aborted_; });
        if (generation_ == generation) throw BarrierAborted(reason_);
        return false;
    }

    void abort(const std::string& reason) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!aborted_) reason_ = reason;
        aborted_ = true;
        changed_.notify_all();
    }
    bool aborted() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return aborted_;
    }
    int participants() const { return participants_; }

private:
    const int participants_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int arrived_ = 0;
    std::uint64_t generation_ = 0;
    bool aborted_ = false;
    std::string reason_ = "aborted";
};

}  // namespace cohort::parallel
