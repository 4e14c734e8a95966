#pragma once
// One macro checks every MPI call: a failing call throws MpiError naming the call, where it was
// made and MPI's own description of the error. Communicators that cohort uses are switched to
// MPI_ERRORS_RETURN, so errors arrive here instead of aborting the job without a word.
#include <mpi.h>

#include <stdexcept>
#include <string>

namespace cohort::parallel {

class MpiError : public std::runtime_error {
public:
    explicit MpiError(const std::string& message) : std::runtime_error(message) {}
};

inline void checkMpi(int code, const char* call, const char* file, int line) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    throw MpiError(std::string(call) + " failed (" + file + ":" + std::to_string(line) + "): " +
                   (length > 0 ? std::string(text, std::size_t(length)) : "MPI error " + std::to_string(code)));
}

}  // namespace cohort::parallel

#define COHORT_MPI_CHECK(call) ::cohort::parallel::checkMpi((call), #call, __FILE__, __LINE__)
