#include "launch/outputs/OutputFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "src/core/AtomicFile.h"
#include "src/core/Errors.h"

namespace cohort::launch {
namespace {

namespace fs = std::filesystem;

bool isExistingRegularFile(const std::string& path) {
    std::error_code error;
    return !path.empty() && fs::is_regular_file(path, error);
}

bool isRegularOrAbsent(const std::string& path) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    return !fs::exists(status) || fs::is_regular_file(status);
}

// InputError naming `flag` PATH unless `folder` is a folder in which a new file can be made (one is
// made and removed: permissions, a read-only or full file system all show).
void requireNewFileIn(const fs::path& folder, const std::string& path, const std::string& flag) {
    std::error_code error;
    if (!fs::is_directory(folder, error)) throw InputError(flag + " " + path + ": " + folder.string() + " is not a folder");
    std::string probe = (folder / ".cohort-write-check-XXXXXX").string();
    const int fd = ::mkstemp(probe.data());
    if (fd < 0) {
        throw InputError(flag + " " + path + " cannot be written: no new file can be made in " + folder.string() + " (" +
                         std::strerror(errno) + ")");
    }
    ::close(fd);
    ::unlink(probe.c_str());
}

void addFilesOf(const std::string& directory, std::vector<std::string>& files) {
    std::error_code error;
    if (directory.empty() || !fs::is_directory(directory, error)) return;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        if (entry.is_regular_file(error)) files.push_back(entry.path().string());
    }
}

}  // namespace

OutputFile::OutputFile(std::string path, std::string flag) : path_(std::move(path)), flag_(std::move(flag)) {
    if (path_.empty()) return;
    if (isRegularOrAbsent(path_)) {
        temporary_ = temporaryPathBeside(path_, "partial");
        file_ = std::fopen(temporary_.c_str(), "w");
        if (!file_) {
            const int error = errno;
            temporary_.clear();
            throw InputError("cannot write " + flag_ + " file " + path_ + ": " + std::strerror(error));
        }
    } else {
        // A FIFO nobody reads would block open() forever: open it without waiting (ENXIO when
        // there is no reader), then write to it normally. Devices and terminals open at once.
        const int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            const int error = errno;
            throw InputError("cannot write " + flag_ + " file " + path_ + ": " +
                             (error == ENXIO ? std::string("it is a FIFO that no process reads") : std::strerror(error)));
        }
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        file_ = ::fdopen(fd, "w");
        if (!file_) {
            ::close(fd);
            throw InputError("cannot write " + flag_ + " file " + path_ + ": " + std::strerror(errno));
        }
    }
}

OutputFile::OutputFile(std::string path, std::string flag, bool append)
    : OutputFile(append && isExistingRegularFile(path) ? std::string() : path, flag) {
    if (file_ || path.empty() || !append) return;  // opened above: not appending, or no regular file there yet
    path_ = std::move(path);
    file_ = std::fopen(path_.c_str(), "a+");
    if (!file_) throw InputError("cannot append to " + flag_ + " file " + path_ + ": " + std::strerror(errno));
    // A line cut short (its writer was killed) stays a line of its own, not the start of the next.
    if (std::fseek(file_, -1, SEEK_END) == 0 && std::fgetc(file_) != '\n') writeLine("", false);
}

OutputFile::~OutputFile() {
    if (file_) std::fclose(file_);
    if (!temporary_.empty()) ::unlink(temporary_.c_str());  // never replaced the old file
}

void OutputFile::fail(const std::string& what, int error) {
    throw std::runtime_error("cannot write " + flag_ + " file " + path_ + ": " + what + std::strerror(error));
}

void OutputFile::writeLine(const std::string& line, bool replaces) {
    if (!file_) return;
    errno = 0;
    if (std::fputs(line.c_str(), file_) < 0 || std::fputc('\n', file_) == EOF || std::fflush(file_) != 0) fail("", errno);
    if (replaces && !temporary_.empty()) {  // the first line: the old file may go now
        if (std::rename(temporary_.c_str(), path_.c_str()) != 0) fail("rename: ", errno);
        temporary_.clear();
    }
}

void writeFileAtomically(const std::string& path, const std::string& text, const std::string& flag) {
    if (!isRegularOrAbsent(path)) {  // a device or a pipe: written directly, never renamed over
        OutputFile direct(path, flag);
        direct.writeLine(text);
        return;
    }
    replaceFileAtomically(path, text.data(), text.size(), flag + " file " + path);
}

std::vector<std::string> runInputs(const RunOptions& options) {
    std::vector<std::string> inputs;
    std::string dataDirectory = options.dataDir;
    if (dataDirectory.empty() && options.data == "fashion-mnist") dataDirectory = "/usr/share/datasets/fashion-mnist";
    if (dataDirectory.empty() && options.data == "mnist") dataDirectory = "/usr/share/datasets/mnist";
    addFilesOf(dataDirectory, inputs);
    for (const std::string* file : {&options.configPath, &options.modelFile, &options.resumePath, &options.loadPath}) {
        if (!file->empty()) inputs.push_back(*file);
    }
    addFilesOf(options.resumePath, inputs);
    addFilesOf(options.checkpointDir, inputs);
    return inputs;
}

void refuseInputAsOutput(const std::string& output, const std::string& flag, const std::vector<std::string>& inputs) {
    if (output.empty()) return;
    std::error_code error;
    if (fs::is_directory(output, error)) throw InputError(flag + " " + output + " is a directory; name a file");
    for (const std::string& input : inputs) {
        const bool same = fs::exists(output, error) && fs::exists(input, error) ? fs::equivalent(output, input, error)
                                                                               : fs::weakly_canonical(output, error) ==
                                                                                     fs::weakly_canonical(input, error);
        if (same) {
            throw InputError(flag + " " + output + " is one of this run's inputs (" + input +
                             "); write it somewhere else");
        }
    }
}

void checkOutputFile(const std::string& path, const std::string& flag) {
    if (path.empty() || !isRegularOrAbsent(path)) return;
    std::error_code error;
    if (fs::is_directory(path, error)) throw InputError(flag + " " + path + " is a directory; name a file");
    const fs::path folder = fs::absolute(path, error).parent_path();
    if (!fs::exists(folder, error)) {
        throw InputError(flag + " " + path + ": its folder " + folder.string() + " does not exist; create it first");
    }
    requireNewFileIn(folder, path, flag);
}

void checkOutputFolder(const std::string& path, const std::string& flag) {
    if (path.empty()) return;
    std::error_code error;
    fs::path folder = fs::absolute(path, error);
    if (fs::exists(folder, error) && !fs::is_directory(folder, error)) {
        throw InputError(flag + " " + path + " exists and is not a folder");
    }
    while (!fs::exists(folder, error) && folder.has_parent_path() && folder.parent_path() != folder) {
        folder = folder.parent_path();  // made later, with its parents: the nearest one that exists must take it
    }
    requireNewFileIn(folder, path, flag);
}

}  // namespace cohort::launch
