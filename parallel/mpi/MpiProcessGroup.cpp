#include "parallel/mpi/MpiProcessGroup.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "parallel/AbortableBarrier.h"
#include "parallel/mpi/MpiCheck.h"

namespace cohort::parallel {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBarrierArriveTag = 7101;
constexpr int kBarrierReleaseTag = 7102;
constexpr int kRollCallTag = 7103;
// How long rank 0 listens for roll-call tokens after a timed-out collective (the others' own
// deadlines pass within moments of the root's), and how long the others try to deliver theirs
// (a token that cannot leave in a second will not: the link is gone). With the barrier's grace
// below and the abort's two seconds (launch/MpiEnvironment), every rank is gone within the
// timeout + 5 s.
constexpr double kRollCallSeconds = 2.0;
constexpr double kRollCallSendSeconds = 1.0;
// Host names are exchanged in fixed-size slots.
constexpr int kHostNameBytes = 64;
// Ranks other than the root wait this much longer at a barrier, so the root (which can name the
// missing ranks) reports first.
constexpr double kFollowerGraceSeconds = 3.0;
// How long a wait keeps testing without sleeping.
constexpr auto kSpinPeriod = std::chrono::milliseconds(20);
// MPI counts are ints: larger buffers go in chunks.
constexpr std::int64_t kChunkElements = std::int64_t(1) << 28;

std::string formatSeconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

}  // namespace

MpiProcessGroup::MpiProcessGroup(MPI_Comm communicator, double timeoutSeconds, std::string label)
    : timeoutSeconds_(timeoutSeconds), label_(std::move(label)) {
    if (!(timeoutSeconds > 0.0)) throw std::invalid_argument("MPI timeout must be > 0 seconds");
    COHORT_MPI_CHECK(MPI_Comm_dup(communicator, &communicator_));
    COHORT_MPI_CHECK(MPI_Comm_set_errhandler(communicator_, MPI_ERRORS_RETURN));
    COHORT_MPI_CHECK(MPI_Comm_rank(communicator_, &rank_));
    COHORT_MPI_CHECK(MPI_Comm_size(communicator_, &size_));
    // Every rank's host, for messages that name a lost rank. Bounded like every other wait.
    std::vector<char> names(std::size_t(size_) * kHostNameBytes, '\0');
    char mine[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    COHORT_MPI_CHECK(MPI_Get_processor_name(mine, &length));
    std::copy_n(mine, std::min(length, kHostNameBytes - 1), names.begin() + std::ptrdiff_t(rank_) * kHostNameBytes);
    MPI_Request request = MPI_REQUEST_NULL;
    COHORT_MPI_CHECK(MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, names.data(), kHostNameBytes, MPI_CHAR,
                                    communicator_, &request));
    if (!waitAll(&request, 1, timeoutSeconds_)) throwTimeout("exchanging host names");
    for (int r = 0; r < size_; ++r) hosts_.emplace_back(names.data() + std::ptrdiff_t(r) * kHostNameBytes);
}

std::string MpiProcessGroup::hostOf(int rank) const {
    return rank >= 0 && std::size_t(rank) < hosts_.size() ? hosts_[std::size_t(rank)] : std::string();
}

MpiProcessGroup::~MpiProcessGroup() {
    // After an abort requests may still be pending on the communicator: leave it to MPI_Abort.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !aborted_.load() && communicator_ != MPI_COMM_NULL) MPI_Comm_free(&communicator_);
}

std::string MpiProcessGroup::name() const {
    return label_ + "(" + std::to_string(size_) + " ranks, MPI_Allreduce on host)";
}

void MpiProcessGroup::abort(const std::string& reason) {
    {
        std::lock_guard<std::mutex> lock(reasonMutex_);
        if (!aborted_.load()) reason_ = reason;
    }
    aborted_.store(true);
}

bool MpiProcessGroup::waitAll(MPI_Request* requests, int count, double timeoutSeconds) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeoutSeconds));
    std::vector<int> indices(std::size_t(std::max(count, 1)));
    int pending = 0;
    for (int i = 0; i < count; ++i) pending += requests[i] != MPI_REQUEST_NULL;
    const auto start = Clock::now();
    int naps = 0;
    while (pending > 0) {
        if (aborted_.load()) {
            std::lock_guard<std::mutex> lock(reasonMutex_);
            throw BarrierAborted(reason_);
        }
        int completed = 0;
        COHORT_MPI_CHECK(MPI_Testsome(count, requests, &completed, indices.data(), MPI_STATUSES_IGNORE));
        if (completed == MPI_UNDEFINED) break;
        if (completed > 0) {
            pending -= completed;
            continue;
        }
        const auto now = Clock::now();
        if (now >= deadline) return false;
        // Nonblocking collectives advance only inside MPI_Test*, so keep testing (yielding the
        // core to other processes) while a collective is likely in flight; a rank that has waited
        // long is waiting for a slower peer, and naps (up to 1 ms) so it leaves the cores to them.
        if (now - start < kSpinPeriod) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(std::min(1000, 20 << std::min(naps++, 6))));
        }
    }
    return true;
}

std::string MpiProcessGroup::rollCall(double seconds) {
    std::vector<int> tokens(static_cast<std::size_t>(size_));
    std::vector<MPI_Request> requests(std::size_t(size_ - 1), MPI_REQUEST_NULL);
    for (int r = 1; r < size_; ++r) {
        COHORT_MPI_CHECK(MPI_Irecv(&tokens[std::size_t(r)], 1, MPI_INT, r, kRollCallTag, communicator_,
                                   &requests[std::size_t(r - 1)]));
    }
    waitAll(requests.data(), size_ - 1, seconds);
    std::string missing;
    int lost = 0;
    for (int r = 1; r < size_; ++r) {
        if (requests[std::size_t(r - 1)] == MPI_REQUEST_NULL) continue;
        MPI_Cancel(&requests[std::size_t(r - 1)]);  // (left to MPI_Abort; the job is ending)
        missing += (lost++ ? ", " : "") + describeRank(r);
    }
    return missing;
}

void MpiProcessGroup::throwTimeout(const std::string& operation) {
    const std::string what = operation + " did not complete within " + formatSeconds(timeoutSeconds_) + " s on " +
                             describeRank(rank_) + " of " + std::to_string(size_);
    const std::string advice = "raise {timeoutSeconds} if ranks are only slow";
    if (!hosts_.empty() && size_ > 1) {  // (the host names are known: the group is complete)
        if (rank_ == 0) {
            const std::string missing = rollCall(kRollCallSeconds);
            if (!missing.empty()) {
                throw ProcessLostError("lost " + missing + ": " + what + " (no answer since; the rank died, hangs or " +
                                       "its host is unreachable; " + advice + ")");
            }
        } else {
            int token = rank_;
            MPI_Request request = MPI_REQUEST_NULL;
            if (MPI_Isend(&token, 1, MPI_INT, 0, kRollCallTag, communicator_, &request) == MPI_SUCCESS &&
                !waitAll(&request, 1, kRollCallSendSeconds)) {
                throw ProcessLostError("lost contact with rank 0 on " + hostOf(0) + ": " + what +
                                       " (rank 0 died, hangs or its host is unreachable; " + advice + ")");
            }
        }
    }
    throw ProcessLostError("lost contact with the other MPI ranks: " + what + " (a rank died or hangs; " + advice + ")");
}

void MpiProcessGroup::allreduceSum(kernels::DType dtype, void* buffer, std::int64_t count) {
    if (size_ == 1) return;
    const MPI_Datatype type = dtype == kernels::DType::Float32 ? MPI_FLOAT : MPI_DOUBLE;
    const std::size_t element = kernels::sizeOf(dtype);
    for (std::int64_t offset = 0; offset < count; offset += kChunkElements) {
        const int chunk = int(std::min(kChunkElements, count - offset));
        MPI_Request request = MPI_REQUEST_NULL;
        COHORT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, static_cast<char*>(buffer) + std::size_t(offset) * element, chunk,
                                        type, MPI_SUM, communicator_, &request));
        if (!waitAll(&request, 1, timeoutSeconds_)) {
            throwTimeout("allreduce of " + std::to_string(count) + " values");
        }
    }
}

void MpiProcessGroup::broadcast(void* buffer, std::size_t bytes, int root) {
    if (size_ == 1) return;
    for (std::size_t offset = 0; offset < bytes; offset += std::size_t(kChunkElements)) {
        const int chunk = int(std::min<std::size_t>(std::size_t(kChunkElements), bytes - offset));
        MPI_Request request = MPI_REQUEST_NULL;
        COHORT_MPI_CHECK(MPI_Ibcast(static_cast<char*>(buffer) + offset, chunk, MPI_BYTE, root, communicator_, &request));
        if (!waitAll(&request, 1, timeoutSeconds_)) {
            throwTimeout("broadcast of " + std::to_string(bytes) + " bytes from rank " + std::to_string(root));
        }
    }
}

void MpiProcessGroup::barrier() {
    if (size_ == 1) return;
    int token = 0;
    if (rank_ == 0) {
        std::vector<int> tokens(static_cast<std::size_t>(size_));
        std::vector<MPI_Request> requests(std::size_t(size_ - 1), MPI_REQUEST_NULL);
        for (int r = 1; r < size_; ++r) {
            COHORT_MPI_CHECK(MPI_Irecv(&tokens[std::size_t(r)], 1, MPI_INT, r, kBarrierArriveTag, communicator_,
                                       &requests[std::size_t(r - 1)]));
        }
        if (!waitAll(requests.data(), size_ - 1, timeoutSeconds_)) {
            std::string missing;
            for (int r = 1; r < size_; ++r) {
                if (requests[std::size_t(r - 1)] == MPI_REQUEST_NULL) continue;
                missing += (missing.empty() ? "" : ", ") + describeRank(r);
            }
            throw ProcessLostError("lost " + missing + ": no answer at a barrier within " + formatSeconds(timeoutSeconds_) +
                                   " s (" + describeRank(0) + " of " + std::to_string(size_) +
                                   "; the rank died, hangs or its host is unreachable; raise {timeoutSeconds} if ranks are only slow)");
        }
        for (int r = 1; r < size_; ++r) {
            COHORT_MPI_CHECK(MPI_Isend(&token, 1, MPI_INT, r, kBarrierReleaseTag, communicator_, &requests[std::size_t(r - 1)]));
        }
        if (!waitAll(requests.data(), size_ - 1, timeoutSeconds_)) throwTimeout("barrier release");
    } else {
        int release = 0;
        MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        COHORT_MPI_CHECK(MPI_Isend(&token, 1, MPI_INT, 0, kBarrierArriveTag, communicator_, &requests[0]));
        COHORT_MPI_CHECK(MPI_Irecv(&release, 1, MPI_INT, 0, kBarrierReleaseTag, communicator_, &requests[1]));
        if (!waitAll(requests, 2, timeoutSeconds_ + kFollowerGraceSeconds)) {
            throw ProcessLostError("lost " + describeRank(0) + ": no release from a barrier within " +
                                   formatSeconds(timeoutSeconds_ + kFollowerGraceSeconds) + " s (" +
                                   describeRank(rank_) + " of " + std::to_string(size_) +
                                   "; rank 0 died or hangs; raise {timeoutSeconds} if ranks are only slow)");
        }
    }
}

}  // namespace cohort::parallel
