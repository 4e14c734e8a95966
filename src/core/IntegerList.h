#pragma once
// Parses "1024,1024" or "0,1": comma-separated non-negative integers, nothing else (no spaces,
// no empty items). Callers give the error message, since only they know the flag and its limits.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cohort {

inline std::optional<std::vector<std::int64_t>> parseIntegerList(const std::string& text) {
    std::vector<std::int64_t> values;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::size_t end = comma == std::string::npos ? text.size() : comma;
        std::int64_t value = 0;
        const char* first = text.data() + start;
        const char* last = text.data() + end;
        const auto [ptr, error] = std::from_chars(first, last, value);
        if (first == last || error != std::errc() || ptr != last || value < 0) return std::nullopt;
        values.push_back(value);
        start = end + 1;
    }
    return values;
}

}  // namespace cohort
