// bench/SgemmStepTimer.cc — how long a training step's single-precision products take inside the
// step, against the same products replayed back to back (operands warm). A preload library: it
// stands in for OpenBLAS's cblas_sgemm, times each call around the real one, and at exit prints to
// stderr
//
//   - the calls and their total time;
//   - with COHORT_SGEMM_STEP=N (the products one step makes: 51 for the baby GPT), the last N
//     calls' time in the step and the same N shapes replayed ten times on warm buffers (best pass);
//   - with COHORT_SGEMM_TABLE=1 as well, one line per product of the step: its shape, its mean time
//     over the second half of the run, its best replayed time and their ratio.
//
//   COHORT_SGEMM_STEP=51 COHORT_SGEMM_TABLE=1 OMP_NUM_THREADS=1 LD_PRELOAD=build/bench/libcohort_sgemm_step_timer.so
//       build/launch/cohort bench --model gpt ...
//
// Replayed products read and write scratch buffers of the same shapes, not the step's data. Not a
// test and not linked into cohort; one thread (calls from several threads are counted, but the
// step's last N calls are then not one worker's step).
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
    void add(const Call& call) {
        std::lock_guard<std::mutex> lock(mutex_);
        total_ += call.seconds;
        calls_.push_back(call);
    }

    ~Recorder() {
        if (calls_.empty() || realSgemm() == nullptr) return;
        std::fprintf(stderr, "sgemm timer: %zu calls, %.3f s in all\n", calls_.size(), total_);
        const std::size_t step = envCount("COHORT_SGEMM_STEP");
        if (step == 0 || calls_.size() < step) return;
        const std::vector<Call> last(calls_.end() - std::ptrdiff_t(step), calls_.end());
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
                     step, inStep * 1e3, flops / inStep * 1e-9, best * 1e3, flops / best * 1e-9);
        if (envCount("COHORT_SGEMM_TABLE") == 0) return;
        const std::size_t steps = calls_.size() / step;
        for (std::size_t j = 0; j < step; ++j) {
            double sum = 0.0;
            std::size_t count = 0;
            for (std::size_t s = steps / 2; s < steps; ++s) {
                sum += calls_[calls_.size() - (steps - s) * step + j].seconds;
                ++count;
            }
            const Call& c = last[j];
            double warm = 1e30;
            for (int pass = 0; pass < 20; ++pass) {
                const double start = now();
                replay(c, realSgemm(), a.data(), b.data(), out.data());
                warm = std::min(warm, now() - start);
            }
            const double mean = sum / double(count);
            std::fprintf(stderr, "%3zu  %c%c  m %5d n %5d k %5d  in the step %.3f ms  warm %.3f ms  x%.2f\n", j,
                         c.transA == CblasTrans ? 'T' : 'N', c.transB == CblasTrans ? 'T' : 'N', int(c.m), int(c.n),
                         int(c.k), mean * 1e3, warm * 1e3, mean / warm);
        }
    }

private:
    std::mutex mutex_;
    std::vector<Call> calls_;
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
