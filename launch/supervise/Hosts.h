#pragma once
// The hosts a supervised job runs on: read from an Open MPI hostfile or a discovery command's
// answer, written back as a hostfile for one attempt, and probed before a restart.
#include <string>
#include <vector>

namespace cohort::launch {

struct Host {
    std::string name;
    int slots = 1;  // ranks on it
};

// An Open MPI hostfile: one host a line, "name [slots=N] [max_slots=M]", '#' comments and blank
// lines ignored. InputError naming `source` and the line when one cannot be read; an empty list
// is refused too.
std::vector<Host> parseHostfile(const std::string& text, const std::string& source);
// A discovery command's answer: one host a line, "name" or "name:slots". The same errors.
std::vector<Host> parseDiscoveredHosts(const std::string& text, const std::string& source);
// `slots` > 0 overrides every host's own count.
void setSlots(std::vector<Host>& hosts, int slots);

std::string hostfileText(const std::vector<Host>& hosts);
int rankCount(const std::vector<Host>& hosts);
std::string hostNames(const std::vector<Host>& hosts);  // "host1,host2"
std::string commaSeparated(const std::vector<std::string>& names);

// The hosts of `candidates` on which `mpirun` can start a process within `timeoutSeconds` (one
// mpirun each, all at once, `mpirunArguments` passed on): a host whose link or daemon is gone
// fails or times out. Each failure is said on stderr in one line.
std::vector<Host> probeHosts(const std::vector<Host>& candidates, const std::vector<std::string>& mpirunArguments,
                             double timeoutSeconds);

}  // namespace cohort::launch
