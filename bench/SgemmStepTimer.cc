// bench/SgemmStepTimer.cc — how long a training step's single-precision products take inside the
// step, against the same products replayed back to back (operands warm). A preload library: it
// stands in for OpenBLAS's cblas_sgemm, times each call around the real one, and at exit prints to
// stderr
//
//   - the calls and their total time;
//   - with COHORT_SGEMM_STEP=N (the products one step makes: 51 for the baby GPT), the last N
//     calls' time in the step and the same N shapes replayed ten times on warm buffers (best pass);
//   - with COHORT_SGEMM_TABLE=1 as well, one line per product of the step: its shape, its mean time
//     over the run's steps after the first two (warm-up), its best replayed time and their ratio.
//
//   COHORT_SGEMM_STEP=51 COHORT_SGEMM_TABLE=1 OMP_NUM_THREADS=1 LD_PRELOAD=build/bench/libcohort_sgemm_step_timer.so
//       build/launch/cohort bench --model gpt ...
//
// Replayed products read and write scratch buffers of the same shapes, not the step's data. Not a
// test and not linked into cohort; one thread (calls from several threads are counted, but the
// step's last N calls are then not one worker's step). It holds one step's calls and a sum per
// product, whatever the run's length.
#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace {

using Sgemm = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float*,
                       blasint, const float*, blasint, float, float*, blasint);

struct Call {
    CBLAS_ORDER order;
    CBLAS_TRANSPOSE transA, transB;
    blasint m, n, k, lda, ldb, ldc;
    float beta;
    double seconds;
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

Sgemm realSgemm() {
    static const Sgemm real = reinterpret_cast<Sgemm>(dlsym(RTLD_NEXT, "cblas_sgemm"));
    return real;
}

std::size_t envCount(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? 0 : std::size_t(std::strtoull(value, nullptr, 10));
}

// Elements a row-major operand of `rows` x `columns` with leading dimension `ld` spans.
std::size_t span(blasint rows, blasint ld) { return std::size_t(rows) * std::size_t(ld); }

void replay(const Call& c, const Sgemm real, float* a, float* b, float* out) {
    real(c.order, c.transA, c.transB, c.m, c.n, c.k, 1.0f, a, c.lda, b, c.ldb, c.beta, out, c.ldc);
}

class Recorder {
public:
    Recorder() : step_(envCount("COHORT_SGEMM_STEP")), last_(step_), sums_(step_, 0.0) {}

    void add(const Call& call) {
        std::lock_guard<std::mutex> lock(mutex_);
        total_ += call.seconds;
        if (step_ > 0) {
            const std::size_t position = calls_ % step_;
            last_[position] = call;
            if (calls_ >= 2 * step_) sums_[position] += call.seconds;
        }
        ++calls_;
    }

    ~Recorder() {
        if (calls_ == 0 || realSgemm() == nullptr) return;
        std::fprintf(stderr, "sgemm timer: %zu calls, %.3f s in all\n", calls_, total_);
        if (step_ == 0 || calls_ < step_) return;
        std::vector<Call> last;  // the last step_ calls in the order they came
        for (std::size_t i = calls_ - step_; i < calls_; ++i) last.push_back(last_[i % step_]);
        std::size_t largest = 0;
        double inStep = 0.0, flops = 0.0;
        for (const Call& c : last) {
            inStep += c.seconds;
            flops += 2.0 * c.m * c.n * c.k;
            // Row-major spans; a column-major call only swaps which count is the rows.
            largest = std::max({largest, span(std::max(c.m, c.k), c.lda), span(std::max(c.k, c.n), c.ldb),
                                span(c.m, c.ldc), span(c.n, c.ldc)});
        }
        std::vector<float> a(largest, 0.01f), b(largest, 0.02f), out(largest, 0.0f);
        double best = 1e30;
        for (int pass = 0; pass < 10; ++pass) {
            const double start = now();
            for (const Call& c : last) replay(c, realSgemm(), a.data(), b.data(), out.data());
            best = std::min(best, now() - start);
        }
        std::fprintf(stderr,
                     "sgemm timer: the step's %zu products: %.2f ms in the step (%.1f GFLOP/s), %.2f ms replayed "
                     "warm (%.1f GFLOP/s)\n",
                     step_, inStep * 1e3, flops / inStep * 1e-9, best * 1e3, flops / best * 1e-9);
        if (envCount("COHORT_SGEMM_TABLE") == 0 || calls_ < 3 * step_) return;
        const std::size_t counted = calls_ / step_ - 2;  // whole steps summed per product
        for (std::size_t j = 0; j < step_; ++j) {
            const std::size_t position = (calls_ - step_ + j) % step_;
            const Call& c = last[j];
            double warm = 1e30;
            for (int pass = 0; pass < 20; ++pass) {
                const double start = now();
                replay(c, realSgemm(), a.data(), b.data(), out.data());
                warm = std::min(warm, now() - start);
            }
            const double mean = sums_[position] / double(counted + (position < calls_ % step_ ? 1 : 0));
            std::fprintf(stderr, "%3zu  %c%c  m %5d n %5d k %5d  in the step %.3f ms  warm %.3f ms  x%.2f\n", j,
                         c.transA == CblasTrans ? 'T' : 'N', c.transB == CblasTrans ? 'T' : 'N', int(c.m), int(c.n),
                         int(c.k), mean * 1e3, warm * 1e3, mean / warm);
        }
    }

private:
    const std::size_t step_;
    std::vector<Call> last_;    // call i at i % step_
    std::vector<double> sums_;  // seconds of the calls at each position, from the third step on
    std::mutex mutex_;
    std::size_t calls_ = 0;
    double total_ = 0.0;
};

Recorder recorder;

}  // namespace

extern "C" void cblas_sgemm(const CBLAS_ORDER order, const CBLAS_TRANSPOSE transA, const CBLAS_TRANSPOSE transB,
                            const blasint m, const blasint n, const blasint k, const float alpha, const float* a,
                            const blasint lda, const float* b, const blasint ldb, const float beta, float* c,
                            const blasint ldc) {
    const Sgemm real = realSgemm();
    if (real == nullptr) {
        std::fprintf(stderr, "sgemm timer: no cblas_sgemm after this library (is OpenBLAS linked?)\n");
        std::abort();
    }
    const double start = now();
    real(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    recorder.add(Call{order, transA, transB, m, n, k, lda, ldb, ldc, beta, now() - start});
}
