#include "launch/supervise/JobFailure.h"

#include <regex>

namespace cohort::launch {
namespace {

// cohort's own lines (parallel/mpi: a peer that stopped answering) and Open MPI's (mpirun's notice
// of a rank that died, a daemon it lost), as Open MPI 4 words them.
const std::regex kLostRank(R"(lost rank \d+ on ([^\s:;,()]+))");
const std::regex kRankDied(R"(process rank \d+ with PID \d+ on node (\S+) exited on signal)");
const std::regex kDaemonNode(R"(Remote daemon:.* on node (\S+))");
const std::regex kIteration(R"(\(epoch \d+, iteration (\d+)\))");

bool contains(const std::string& line, const char* text) { return line.find(text) != std::string::npos; }

bool isErrorLine(const std::string& line) {
    return line.rfind("cohort[rank ", 0) == 0 ? contains(line, "]: error: ") : line.rfind("cohort: error: ", 0) == 0;
}

}  // namespace

void JobFailure::lost(double secondsNow, const std::string& line) {
    if (!lost_) {
        failedAt_ = secondsNow;
        lostLine_ = line;
    }
    lost_ = true;
}

void JobFailure::see(const std::string& line, double secondsNow) {
    std::smatch match;
    if (std::regex_search(line, match, kLostRank)) {
        hosts_.insert(match[1].str());
        lost(secondsNow, line);
        if (isErrorLine(line) && !contains(reason_, "lost rank")) reason_ = line;  // the line that names the host
    } else if (std::regex_search(line, match, kRankDied)) {
        std::string host = match[1].str();
        if (!host.empty() && host.back() == '.') host.pop_back();
        hosts_.insert(host);
        lost(secondsNow, line);
    } else if (contains(line, "lost contact with the other MPI ranks") ||
               contains(line, "ORTE daemon has unexpectedly failed") || contains(line, "lost communication with a remote daemon")) {
        awaitingDaemonNode_ = contains(line, "remote daemon");
        lost(secondsNow, line);
    } else if (awaitingDaemonNode_ && std::regex_search(line, match, kDaemonNode)) {
        hosts_.insert(match[1].str());
        awaitingDaemonNode_ = false;
    }
    if (contains(line, "diverged") || contains(line, "loss became NaN") || contains(line, "loss became infinite")) diverged_ = true;
    if (iteration_ < 0 && std::regex_search(line, match, kIteration)) iteration_ = std::stoll(match[1].str());
    if (reason_.empty() && isErrorLine(line)) reason_ = line;
    if (reason_.empty() && lost_) reason_ = lostLine_;
}

}  // namespace cohort::launch
