// cohort launch --hostfile FILE [flags] -- train ARGS...: a training job under mpirun, restarted
// from its newest checkpoint on the hosts that are left when a rank or a host is lost
// (launch/supervise/Supervisor.h).
#include <algorithm>
#include <cstdio>
#include <sstream>

#include <boost/program_options.hpp>

#include "launch/commands/Commands.h"
#include "launch/supervise/Supervisor.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

namespace po = boost::program_options;

po::options_description launchFlags(LaunchOptions& o) {
    po::options_description flags("cohort launch flags (the job's own flags follow --, starting with 'train')");
    flags.add_options()
        ("help,h", "show this help")
        ("hostfile", po::value(&o.hostfile), "Open MPI hostfile of the job's hosts (required)")
        ("slots", po::value(&o.slots), "ranks per host (default: the hostfile's slots=, else 1)")
        ("max-restarts", po::value(&o.maxRestarts)->default_value(3), "restarts after a lost rank or host before giving up")
        ("min-hosts", po::value(&o.minHosts)->default_value(1), "stop when fewer usable hosts than this are left")
        ("host-discovery", po::value(&o.hostDiscovery),
         "shell command printing the usable hosts, one a line (name or name:slots); run before each restart")
        ("mpirun-arg", po::value(&o.mpirunArguments)->composing(),
         "one more mpirun argument; repeatable (one that starts with - is given with =: --mpirun-arg=--mca)")
        ("probe-timeout", po::value(&o.probeSeconds)->default_value(5.0), "seconds a host gets to start a probe process before a restart");
    return flags;
}

void validate(const LaunchOptions& o) {
    if (o.hostfile.empty()) throw InputError("cohort launch needs --hostfile (the job's hosts, as Open MPI reads them)");
    if (o.slots < 0) throw InputError("--slots must be a positive whole number, got " + std::to_string(o.slots));
    if (o.maxRestarts < 0) throw InputError("--max-restarts must be >= 0, got " + std::to_string(o.maxRestarts));
    if (o.minHosts < 1) throw InputError("--min-hosts must be >= 1, got " + std::to_string(o.minHosts));
    if (!(o.probeSeconds > 0.0)) throw InputError("--probe-timeout must be a positive number of seconds");
}

}  // namespace

int runLaunch(const std::vector<std::string>& arguments) {
    LaunchOptions options;
    const po::options_description flags = launchFlags(options);
    std::vector<std::string> own = arguments;
    const auto separator = std::find(own.begin(), own.end(), "--");
    if (separator != own.end()) {
        options.trainArguments.assign(separator + 1, own.end());
        own.erase(separator, own.end());
    }
    po::variables_map values;
    try {
        po::store(po::command_line_parser(own).options(flags).run(), values);
        po::notify(values);
    } catch (const po::error& error) {
        throw InputError(std::string(error.what()) + "; run 'cohort launch --help'");
    }
    if (values.count("help")) {
        std::ostringstream text;
        text << "usage: cohort launch --hostfile FILE [flags] -- train [train flags]\n" << flags;
        std::fputs(text.str().c_str(), stdout);
        return 0;
    }
    validate(options);
    return superviseJob(options);
}

}  // namespace cohort::launch
