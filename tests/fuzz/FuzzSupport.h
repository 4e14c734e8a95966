#pragma once
// What every fuzz target asserts: bad input is refused with the parser's own one-line error (an
// InputError, or the documented exception type of a lower layer), never with a crash, a hang, a
// sanitizer report, a leak or any other exception (std::bad_alloc, std::length_error, ...), which
// would reach the user as exit 1 with a message naming no cause.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "src/core/Errors.h"

namespace cohort::fuzzing {

[[noreturn]] inline void unexpected(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz target: %s: %s\n", what, detail.c_str());
    std::abort();
}

// Runs `parse`; a Refusal with a one-line message is the right answer to bad input.
template <class Refusal = InputError, class Parse>
int refusalsOnly(Parse&& parse) {
    try {
        parse();
    } catch (const Refusal& refusal) {
        const std::string message = refusal.what();
        if (message.empty() || message.find('\n') != std::string::npos) unexpected("refusal not on one line", message);
    } catch (const std::exception& other) {
        unexpected(typeid(other).name(), other.what());
    }
    return 0;
}

}  // namespace cohort::fuzzing
