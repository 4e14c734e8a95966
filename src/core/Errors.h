#pragma once
// Error types shared by every layer above memory/. The CLI maps them to exit codes:
// InputError (bad flags, config, data files, limits that cannot hold) -> 2, anything else -> 1.
#include <stdexcept>
#include <string>

namespace cohort {

// Bad input from the user: a flag, a config value, a data file. The message is one line that
// names the cause (which file/flag/value) and, where there is one, the fix.
class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// Training diverged (NaN/Inf loss or parameters).
class DivergenceError : public std::runtime_error {
public:
    explicit DivergenceError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace cohort
