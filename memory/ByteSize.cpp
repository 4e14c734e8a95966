// Human byte sizes: formatBytes ("1.5 MiB") and parseByteSize ("512M", "1.5GB", "64k").
// Units are binary (K = 1024) whatever the spelling: K, KB, KiB are the same unit.
#include <cctype>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "memory/SystemAllocator.h"

namespace cohort::memory {

std::string formatBytes(std::int64_t bytes) {
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const bool negative = bytes < 0;
    // Magnitude as unsigned so that INT64_MIN does not overflow.
    const std::uint64_t magnitude =
        negative ? static_cast<std::uint64_t>(-(bytes + 1)) + 1 : static_cast<std::uint64_t>(bytes);
    const std::string sign = negative ? "-" : "";
    if (magnitude < 1024) return sign + std::to_string(magnitude) + " B";
    double value = static_cast<double>(magnitude) / 1024.0;
    int unit = 0;
    // Move up a unit when the value would print as 1024.0 or more.
    while (value >= 1023.95 && unit + 1 < static_cast<int>(std::size(kUnits))) {
        value /= 1024.0;
        ++unit;
    }
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kUnits[unit]);
    return sign + buffer;
}

namespace {

// The text as it can be shown on one line: control characters as \xNN, at most 64 characters.
std::string shown(const std::string& text) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const char c : text.substr(0, 64)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += {'\\', 'x', digits[byte >> 4], digits[byte & 15]};
        } else {
            out += c;
        }
    }
    return text.size() > 64 ? out + "..." : out;
}

[[noreturn]] void invalidByteSize(const std::string& text, const std::string& why) {
    throw std::invalid_argument("invalid byte size '" + shown(text) + "': " + why +
                                " (expected a non-negative number with an optional binary unit "
                                "K, M, G or T, e.g. 1024, 64k, 512M, 1.5GB, 8GiB)");
}

int unitPower(const std::string& unit) {
    std::string lower;
    for (char c : unit) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.empty() || lower == "b") return 0;
    static constexpr char kLetters[] = {'k', 'm', 'g', 't'};
    for (int power = 1; power <= 4; ++power) {
        const char letter = kLetters[power - 1];
        if (lower == std::string(1, letter) || lower == std::string(1, letter) + "b" ||
            lower == std::string(1, letter) + "ib")
            return power;
    }
    return -1;
}

}  // namespace

std::int64_t parseByteSize(const std::string& text) {
    std::size_t begin = 0;
    std::size_t end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    if (begin == end) invalidByteSize(text, "it is empty");
    if (text[begin] == '-') invalidByteSize(text, "it is negative");
    if (text[begin] == '+') ++begin;

    // Integer and fraction digits, kept exact: value = (integer + fraction / 10^digits) * unit.
    unsigned __int128 integer = 0;
    unsigned __int128 fraction = 0;
    unsigned __int128 fractionScale = 1;
    std::size_t position = begin;
    bool anyDigit = false;
    constexpr unsigned __int128 kLimit = static_cast<unsigned __int128>(1) << 63;
    while (position < end && std::isdigit(static_cast<unsigned char>(text[position]))) {
        integer = integer * 10 + static_cast<unsigned>(text[position] - '0');
        if (integer > kLimit) invalidByteSize(text, "it is too large");
        anyDigit = true;
        ++position;
    }
    if (position < end && text[position] == '.') {
        ++position;
        while (position < end && std::isdigit(static_cast<unsigned char>(text[position]))) {
            if (fractionScale < static_cast<unsigned __int128>(1000000000000000000ULL)) {  // further digits are noise
                fraction = fraction * 10 + static_cast<unsigned>(text[position] - '0');
                fractionScale *= 10;
            }
            anyDigit = true;
            ++position;
        }
    }
    if (!anyDigit) invalidByteSize(text, "it has no number");
    while (position < end && std::isspace(static_cast<unsigned char>(text[position]))) ++position;
    const int power = unitPower(text.substr(position, end - position));
    if (power < 0) invalidByteSize(text, "unknown unit '" + shown(text.substr(position, end - position)) + "'");

    unsigned __int128 multiplier = 1;
    for (int i = 0; i < power; ++i) multiplier *= 1024;
    const unsigned __int128 bytes = integer * multiplier + fraction * multiplier / fractionScale;
    if (bytes > static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()))
        invalidByteSize(text, "it is too large (over 8 EiB)");
    return static_cast<std::int64_t>(bytes);
}

}  // namespace cohort::memory
