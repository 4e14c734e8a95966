#pragma once
// The units of `cohort plan`'s link flags: --latency takes a duration (50us, 0.2ms, 800ns, 1s;
// "µs" is "us"), --bandwidth a rate in bits (100mbit, 1gbit, 10gbit, 1Gbps) or in bytes (125MB,
// 1GiB; decimal kB MB GB TB, binary KiB MiB GiB TiB); "/s" may follow either. A number without a
// unit, an unknown unit ("1gb": bits or bytes?) or a value that is not positive and finite is an
// InputError naming the flag and the accepted forms.
#include <string>

namespace cohort::launch {

double parseDurationSeconds(const std::string& text, const std::string& flag);
double parseBandwidthBytesPerSecond(const std::string& text, const std::string& flag);

// "50.0 us", "1.20 ms", "2.50 s".
std::string formatDuration(double seconds);
// "1.00 Gbit/s (125 MB/s)".
std::string formatBandwidth(double bytesPerSecond);

}  // namespace cohort::launch
