#pragma once
// GradientAveraging: one worker's gradient average in shared-gradients mode, bucket by bucket
// (parallel/GradientBuckets.h), overlapped with the backward pass or after it.
//
//   beginStep()         before the step's computeGradients().
//   gradientsWritten()  from Model::backward(), as the step's nn::GradientListener: when
//                       overlapping, every bucket whose layers are all written goes to the
//                       worker's communication thread, which averages it while the backward pass
//                       goes on with the layers before it.
//   finishStep()        after computeGradients(): returns once every bucket is averaged, in
//                       order (buckets not handed off yet are handed off now). An error of the
//                       communication thread is rethrown here as it was thrown (ProcessLostError,
//                       BarrierAborted, ...).
//
// The communication thread stands in for its worker in the communicator during the step: every
// worker of the process averages the same buckets in the same order, so the communicator's
// meetings match whichever thread joins them, and the worker itself joins no collective between
// beginStep() and finishStep(). Under mpirun, worker 0's communication thread is then the only
// thread of its process that calls MPI (MPI_THREAD_SERIALIZED holds). The thread, its CPU backend
// and the bucket table are made once: a step allocates nothing.
//
// Not overlapping (turned off, GPU workers: they would need a stream of their own for it, or one
// replica) runs the same averages on the worker's thread in finishStep(); overlapped or not, the
// same averages of the same ranges run in the same order, so the results are bitwise equal.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/Backend.h"
#include "parallel/Communicator.h"
#include "parallel/GradientBuckets.h"
#include "parallel/TraceRecorder.h"
#include "src/nn/Model.h"

namespace cohort::parallel {

class GradientAveraging final : public nn::GradientListener {
public:
    // `backend` is the worker's (its gradients' location); `trace`, when set, gets the
    // communication thread's spans on the worker's communication track.
    GradientAveraging(Communicator& communicator, int worker, kernels::Backend& backend, nn::Model& model,
                      std::int64_t bucketBytes, bool overlap, TraceRecorder* trace = nullptr);
    ~GradientAveraging() override;
    GradientAveraging(const GradientAveraging&) = delete;
    GradientAveraging& operator=(const GradientAveraging&) = delete;

    bool overlaps() const { return overlap_; }
    const std::vector<GradientBucket>& buckets() const { return buckets_; }

    void beginStep(int epoch, std::int64_t iteration);
    void gradientsWritten(std::size_t layer) override;
    void finishStep();

private:
    void handOffThrough(std::size_t buckets);
    void communicationThread();
    void average(kernels::Backend& backend, const GradientBucket& bucket);

    Communicator& communicator_;
    const int worker_;
    kernels::Backend& backend_;
    nn::Model& model_;
    const std::vector<GradientBucket> buckets_;
    const bool overlap_;
    TraceRecorder* const trace_;

    std::size_t handedOff_ = 0;  // worker thread: buckets handed off this step
    std::mutex mutex_;
    std::condition_variable changed_;
    // Guarded by mutex_:
    std::size_t published_ = 0;  // buckets the communication thread may average this step
    std::size_t averaged_ = 0;   // buckets it has averaged this step
    int epoch_ = 0;
    std::int64_t iteration_ = 0;
    bool stopping_ = false;
    std::exception_ptr failure_;  // the communication thread's first error (sticky: the run ends)
    std::thread thread_;
};

}  // namespace cohort::parallel
