#include "launch/supervise/Hosts.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sstream>

#include "launch/supervise/JobProcess.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

int slotsFrom(const std::string& text, const std::string& where) {
    std::size_t used = 0;
    int slots = 0;
    try {
        slots = std::stoi(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || slots < 1) throw InputError(where + ": slots must be a positive whole number, got '" + text + "'");
    return slots;
}

template <typename ParseLine>
std::vector<Host> parseLines(const std::string& text, const std::string& source, ParseLine parseLine) {
    std::vector<Host> hosts;
    std::istringstream lines(text);
    int number = 0;
    for (std::string line; std::getline(lines, line);) {
        ++number;
        line = line.substr(0, line.find('#'));
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string word; words >> word;) fields.push_back(word);
        if (fields.empty()) continue;
        hosts.push_back(parseLine(fields, source + " line " + std::to_string(number)));
    }
    if (hosts.empty()) throw InputError(source + " names no host");
    return hosts;
}

}  // namespace

std::vector<Host> parseHostfile(const std::string& text, const std::string& source) {
    return parseLines(text, source, [](const std::vector<std::string>& fields, const std::string& where) {
        Host host{fields[0], 1};
        for (std::size_t i = 1; i < fields.size(); ++i) {
            const std::string& field = fields[i];
            if (field.rfind("slots=", 0) == 0) host.slots = slotsFrom(field.substr(6), where);
            else if (field.rfind("max_slots=", 0) != 0 && field.rfind("max-slots=", 0) != 0)
                throw InputError(where + ": '" + field + "' is not slots=N or max_slots=N");
        }
        return host;
    });
}

std::vector<Host> parseDiscoveredHosts(const std::string& text, const std::string& source) {
    return parseLines(text, source, [](const std::vector<std::string>& fields, const std::string& where) {
        if (fields.size() != 1) throw InputError(where + ": one host a line (name or name:slots), got '" + fields[0] + " ...'");
        const std::string& field = fields[0];
        const auto colon = field.find(':');
        if (colon == 0) throw InputError(where + ": a host name is missing before ':'");
        if (colon == std::string::npos) return Host{field, 1};
        return Host{field.substr(0, colon), slotsFrom(field.substr(colon + 1), where)};
    });
}

void setSlots(std::vector<Host>& hosts, int slots) {
    if (slots <= 0) return;
    for (Host& host : hosts) host.slots = slots;
}

std::string hostfileText(const std::vector<Host>& hosts) {
    std::string text;
    for (const Host& host : hosts) text += host.name + " slots=" + std::to_string(host.slots) + "\n";
    return text;
}

int rankCount(const std::vector<Host>& hosts) {
    int ranks = 0;
    for (const Host& host : hosts) ranks += host.slots;
    return ranks;
}

std::string commaSeparated(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
    return text;
}

std::string hostNames(const std::vector<Host>& hosts) {
    std::vector<std::string> names;
    for (const Host& host : hosts) names.push_back(host.name);
    return commaSeparated(names);
}

std::vector<Host> probeHosts(const std::vector<Host>& candidates, const std::vector<std::string>& mpirunArguments,
                             double timeoutSeconds) {
    std::vector<std::unique_ptr<JobProcess>> probes;
    std::vector<std::string> said(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        std::vector<std::string> argv = {"mpirun", "--host", candidates[i].name + ":1", "-np", "1"};
        argv.insert(argv.end(), mpirunArguments.begin(), mpirunArguments.end());
        argv.push_back("true");
        std::string& lines = said[i];
        probes.push_back(std::make_unique<JobProcess>(argv, [&lines](const std::string& line) {
            if (lines.empty()) lines = line;
        }));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSeconds);
    std::vector<Host> usable;
    for (std::size_t i = 0; i < probes.size(); ++i) {
        bool done = false;
        while (!(done = probes[i]->waitFor(50)) && std::chrono::steady_clock::now() < deadline) {}
        if (done && probes[i]->status() == 0) {
            usable.push_back(candidates[i]);
            continue;
        }
        if (!done) probes[i]->signalGroup(SIGKILL);
        std::fprintf(stderr, "cohort launch: %s is not usable: %s\n", candidates[i].name.c_str(),
                     done ? ("mpirun could not start a process there (exit " + std::to_string(probes[i]->status()) +
                             (said[i].empty() ? ")" : "): " + said[i])).c_str()
                          : ("no answer within " + std::to_string(int(timeoutSeconds)) + " s").c_str());
    }
    return usable;
}

}  // namespace cohort::launch
