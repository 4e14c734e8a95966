#include "parallel/GradientAveraging.h"

#include <chrono>

namespace cohort::parallel {

GradientAveraging::GradientAveraging(Communicator& communicator, int worker, kernels::Backend& backend,
                                     nn::Model& model, std::int64_t bucketBytes, bool overlap, TraceRecorder* trace)
    : communicator_(communicator),
      worker_(worker),
      backend_(backend),
      model_(model),
      buckets_(planGradientBuckets(model, bucketBytes)),
      overlap_(overlap),
      trace_(trace) {
    if (!overlap_) return;
    if (trace_) trace_->reserveCommunicationTrack(worker_);
    thread_ = std::thread([this] { communicationThread(); });
}

GradientAveraging::~GradientAveraging() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    // A bucket in flight finishes first: normally none is (finishStep() waited for them); after
    // a failure the communicator has been aborted, which wakes a thread waiting on the others.
    thread_.join();
}

void GradientAveraging::beginStep(int epoch, std::int64_t iteration) {
    handedOff_ = 0;
    if (!overlap_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    published_ = 0;
    averaged_ = 0;
    epoch_ = epoch;
    iteration_ = iteration;
}

void GradientAveraging::gradientsWritten(std::size_t layer) {
    if (!overlap_) return;
    std::size_t ready = handedOff_;
    while (ready < buckets_.size() && layer <= buckets_[ready].readyAfterLayer) ++ready;
    if (ready > handedOff_) handOffThrough(ready);
}

void GradientAveraging::handOffThrough(std::size_t buckets) {
    backend_.synchronize();  // a device backend may still be writing them
    {
        std::lock_guard<std::mutex> lock(mutex_);
        published_ = buckets;
    }
    handedOff_ = buckets;
    changed_.notify_all();
}

void GradientAveraging::finishStep() {
    if (!overlap_) {
        for (const GradientBucket& bucket : buckets_) average(backend_, bucket);
        return;
    }
    if (handedOff_ < buckets_.size()) handOffThrough(buckets_.size());
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return averaged_ == buckets_.size() || failure_; });
    if (failure_) std::rethrow_exception(failure_);
}

void GradientAveraging::average(kernels::Backend& backend, const GradientBucket& bucket) {
    const kernels::DType dtype = model_.dtype();
    void* start = static_cast<char*>(model_.gradients().raw()) + std::size_t(bucket.begin) * kernels::sizeOf(dtype);
    communicator_.average(worker_, backend, dtype, start, bucket.count);
}

void GradientAveraging::communicationThread() {
    std::unique_ptr<kernels::Backend> backend;
    std::unique_lock<std::mutex> lock(mutex_);
    try {
        // Its own backend, made on this thread (a CPU backend sets the calling thread's OpenMP
        // threads): one thread, as the thread mostly waits for the other replicas.
        backend = kernels::makeCpuBackend(1);
    } catch (...) {
        failure_ = std::current_exception();
    }
    for (;;) {
        changed_.wait(lock, [&] { return stopping_ || (!failure_ && averaged_ < published_); });
        if (stopping_) return;
        const GradientBucket& bucket = buckets_[averaged_];
        const int epoch = epoch_;
        const std::int64_t iteration = iteration_;
        lock.unlock();
        std::exception_ptr failure;
        const auto begin = std::chrono::steady_clock::now();
        try {
            average(*backend, bucket);
        } catch (...) {
            failure = std::current_exception();
        }
        if (trace_) {
            trace_->recordCommunication(worker_, SpanKind::GradientAveraging, epoch, iteration, begin,
                                        std::chrono::steady_clock::now());
        }
        lock.lock();
        if (failure) {
            failure_ = failure;
        } else {
            ++averaged_;
        }
        changed_.notify_all();
    }
}

}  // namespace cohort::parallel
