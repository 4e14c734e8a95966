#include "src/core/AtomicFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace cohort {
namespace {

namespace fs = std::filesystem;

fs::path directoryOf(const fs::path& target) { return target.has_parent_path() ? target.parent_path() : fs::path("."); }

}  // namespace

std::string temporaryPathBeside(const std::string& path, const std::string& tag) {
    const fs::path target(path);
    return (directoryOf(target) / ("." + target.filename().string() + "." + tag + "-" + std::to_string(::getpid()))).string();
}

void replaceFileAtomically(const std::string& path, const void* data, std::size_t bytes, const std::string& what) {
    const std::string temporary = temporaryPathBeside(path, "tmp");
    auto fail = [&](const std::string& step, int error) {
        ::unlink(temporary.c_str());
        throw std::runtime_error("cannot write " + what + ": " + step + ": " + std::strerror(error));
    };
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write " + what + ": " + std::strerror(errno));
    const auto* at = static_cast<const unsigned char*>(data);
    std::size_t written = 0;
    while (written < bytes) {
        const ssize_t n = ::write(fd, at + written, bytes - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int error = errno;
            ::close(fd);
            fail("write", error);
        }
        written += std::size_t(n);
    }
    if (::fsync(fd) != 0) {
        const int error = errno;
        ::close(fd);
        fail("fsync", error);
    }
    if (::close(fd) != 0) fail("close", errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0) fail("rename", errno);
    const int directory = ::open(directoryOf(fs::path(path)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory >= 0) {
        ::fsync(directory);
        ::close(directory);
    }
}

}  // namespace cohort
