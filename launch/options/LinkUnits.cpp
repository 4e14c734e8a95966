#include "launch/options/LinkUnits.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

constexpr const char* kDurationForms = "a duration with its unit, e.g. 50us, 0.2ms, 800ns or 1s";
constexpr const char* kBandwidthForms =
    "a rate with its unit, e.g. 100mbit, 1gbit, 10gbit (bits per second) or 125MB, 1GiB (bytes per second)";

std::string lower(std::string text) {
    for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// The leading number of `text` and the unit after it (spaces between them allowed).
std::pair<double, std::string> splitNumber(const std::string& text, const std::string& flag, const char* forms) {
    errno = 0;
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) {
        throw InputError("bad " + flag + " '" + text + "': expected " + forms);
    }
    if (errno == ERANGE || !std::isfinite(number)) throw InputError("bad " + flag + " '" + text + "': out of range");
    if (!(number > 0.0)) throw InputError("bad " + flag + " '" + text + "': it must be positive");
    std::string unit(end);
    while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
    if (unit.empty()) throw InputError("bad " + flag + " '" + text + "': no unit; expected " + forms);
    return {number, unit};
}

double checked(double value, const std::string& text, const std::string& flag) {
    if (!std::isfinite(value) || !(value > 0.0)) throw InputError("bad " + flag + " '" + text + "': out of range");
    return value;
}

std::string withUnit(double value, const char* const* units, double step) {
    int index = 0;
    while (value >= step * 0.9999 && units[index + 1] != nullptr) value /= step, ++index;
    char text[48];
    std::snprintf(text, sizeof text, value >= 100 ? "%.0f %s" : value >= 10 ? "%.1f %s" : "%.2f %s", value, units[index]);
    return text;
}

}  // namespace

double parseDurationSeconds(const std::string& text, const std::string& flag) {
    const auto [number, unit] = splitNumber(text, flag, kDurationForms);
    const std::string u = lower(unit);
    double scale = 0.0;
    if (u == "s" || u == "sec") scale = 1.0;
    else if (u == "ms") scale = 1e-3;
    else if (u == "us" || u == "\xc2\xb5s" || u == "\xce\xbcs") scale = 1e-6;  // us, µs (micro sign or mu)
    else if (u == "ns") scale = 1e-9;
    else throw InputError("bad " + flag + " '" + text + "': unknown unit '" + unit + "'; expected " + kDurationForms);
    return checked(number * scale, text, flag);
}

double parseBandwidthBytesPerSecond(const std::string& text, const std::string& flag) {
    // (Not a structured binding: clang before 16 cannot capture one in the lambda below.)
    const auto split = splitNumber(text, flag, kBandwidthForms);
    const double number = split.first;
    std::string unit = split.second;
    const auto endsWith = [&](const std::string& suffix) {
        return unit.size() > suffix.size() && lower(unit.substr(unit.size() - suffix.size())) == suffix;
    };
    if (endsWith("/s")) unit.erase(unit.size() - 2);
    else if (endsWith("bps")) unit = unit.substr(0, unit.size() - 3) + "bit";  // Mbps, Gbps: bits
    const std::string u = lower(unit);
    double bytes = 0.0;
    if (u == "bit") bytes = 1.0 / 8;
    else if (u == "kbit") bytes = 1e3 / 8;
    else if (u == "mbit") bytes = 1e6 / 8;
    else if (u == "gbit") bytes = 1e9 / 8;
    else if (u == "tbit") bytes = 1e12 / 8;
    // Bytes: the capital B tells them from bits.
    else if (unit == "B") bytes = 1.0;
    else if (unit == "kB" || unit == "KB") bytes = 1e3;
    else if (unit == "MB") bytes = 1e6;
    else if (unit == "GB") bytes = 1e9;
    else if (unit == "TB") bytes = 1e12;
    else if (unit == "KiB") bytes = 1024.0;
    else if (unit == "MiB") bytes = 1024.0 * 1024;
    else if (unit == "GiB") bytes = 1024.0 * 1024 * 1024;
    else if (unit == "TiB") bytes = 1024.0 * 1024 * 1024 * 1024;
    else throw InputError("bad " + flag + " '" + text + "': unknown unit '" + unit + "'; expected " + kBandwidthForms);
    return checked(number * bytes, text, flag);
}

std::string formatDuration(double seconds) {
    static const char* const units[] = {"ns", "us", "ms", "s", nullptr};
    return withUnit(seconds * 1e9, units, 1000.0);
}

std::string formatBandwidth(double bytesPerSecond) {
    static const char* const bits[] = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s", nullptr};
    static const char* const bytes[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s", nullptr};
    return withUnit(bytesPerSecond * 8.0, bits, 1000.0) + " (" + withUnit(bytesPerSecond, bytes, 1000.0) + ")";
}

}  // namespace cohort::launch
