// Time of one cross-process averaging of the MLP's flat parameter buffer (784-1024-1024-10,
// 1.86M floats, 7.5 MB) as cohort does it: MpiProcessGroup::allreduceSum (nonblocking
// MPI_Iallreduce polled with a deadline) followed by the division by the process count. Reported
// like nccl-tests: algorithm bandwidth (bytes / t) and bus bandwidth (algbw * 2(n-1)/n), next to
// a blocking MPI_Allreduce and a memcpy ceiling (each rank copying the same bytes at the same
// time) measured in the same run; every iteration checks the result.
//   mpirun -np 2 --oversubscribe --bind-to none ./build/bench/MpiAllreduceBench [iterations]
//   (add --mca btl self,tcp --mca btl_tcp_if_include lo for the transport that crosses nodes)
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "parallel/mpi/MpiCheck.h"
#include "parallel/mpi/MpiProcessGroup.h"
#include "src/nn/Architectures.h"

namespace {

using namespace cohort;
using Clock = std::chrono::steady_clock;

struct Timing {
    double median = 0.0, best = 0.0;
};

// Runs `body` `iterations` times after warm-up; each time is the slowest rank's.
// `prepare` and `verify` run outside the timed region.
template <typename Prepare, typename Body, typename Verify>
Timing measure(int iterations, Prepare prepare, Body body, Verify verify) {
    std::vector<double> times;
    for (int i = -3; i < iterations; ++i) {
        prepare();
        COHORT_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
        const auto start = Clock::now();
        body();
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        verify();
        COHORT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
        if (i >= 0) times.push_back(seconds);
    }
    std::sort(times.begin(), times.end());
    return {times[times.size() / 2], times.front()};
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;
    COHORT_MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided));
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
    nn::ArchitectureConfig architecture{"mlp", {1024, 1024}, 0.0, "relu"};
    const std::int64_t count = nn::buildModel(architecture, Shape{784}, 10)->parameterCount();
    const std::size_t bytes = std::size_t(count) * sizeof(float);

    const auto elements = static_cast<std::size_t>(count);
    std::vector<float> buffer(elements), source(elements), copy(elements);
    // Rank r holds r + 1 + (i mod 7): the mean is (n + 1) / 2 + (i mod 7), exact in float.
    auto fill = [&] {
        for (std::int64_t i = 0; i < count; ++i) buffer[std::size_t(i)] = float(rank + 1 + i % 7);
    };
    int failures = 0;
    auto check = [&] {
        const float base = float(size + 1) / 2.0f;
        for (std::int64_t i = 0; i < count; ++i) failures += buffer[std::size_t(i)] != base + float(i % 7);
    };
    for (std::int64_t i = 0; i < count; ++i) source[std::size_t(i)] = float(i);

    parallel::MpiProcessGroup processes(MPI_COMM_WORLD, 60.0);
    const float scale = 1.0f / float(size);
    std::vector<Timing> timings;
    timings.push_back(measure(iterations, fill, [&] {
        processes.allreduceSum(kernels::DType::Float32, buffer.data(), count);
        for (auto& value : buffer) value *= scale;
    }, check));
    timings.push_back(measure(iterations, fill, [&] {
        COHORT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        for (auto& value : buffer) value *= scale;
    }, check));
    const Timing memcpyTime = measure(iterations, [] {}, [&] { std::memcpy(copy.data(), source.data(), bytes); }, [] {});
    COHORT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));

    if (rank == 0) {
        char processor[MPI_MAX_PROCESSOR_NAME] = {};
        int length = 0;
        MPI_Get_processor_name(processor, &length);
        std::printf("MpiAllreduceBench: %d ranks on %s, %lld floats (%.2f MB), %d iterations, median (best)\n", size,
                    processor, static_cast<long long>(count), double(bytes) / 1e6, iterations);
        std::printf("%-34s %12s %12s %12s\n", "operation", "time us", "algbw GB/s", "busbw GB/s");
        const char* names[] = {"average (MpiProcessGroup, polled)", "average (blocking MPI_Allreduce)"};
        const double busFactor = 2.0 * double(size - 1) / double(size);
        for (std::size_t i = 0; i < timings.size(); ++i) {
            const double seconds = timings[i].median, best = timings[i].best;
            const double algbw = double(bytes) / seconds / 1e9;
            std::printf("%-34s %7.0f (%4.0f) %12.2f %12.2f\n", names[i], seconds * 1e6, best * 1e6, algbw, algbw * busFactor);
        }
        const double copyBandwidth = double(bytes) / memcpyTime.median / 1e9;
        std::printf("%-34s %7.0f (%4.0f) %12.2f %12s\n", "memcpy ceiling (every rank at once)", memcpyTime.median * 1e6,
                    memcpyTime.best * 1e6, copyBandwidth, "-");
        std::printf("data check: %s\n", failures == 0 ? "ok" : "FAILED");
    }
    MPI_Finalize();
    return failures == 0 ? 0 : 1;
}
