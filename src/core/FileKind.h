#pragma once
// What a path is, in the words of a one-line error. Readers ask before they open, so a directory,
// FIFO, device or socket is named as what it is (never "missing", "empty" or a blocking open),
// and a regular file given where a directory belongs is not "does not exist".
#include <filesystem>
#include <string>
#include <system_error>

namespace cohort {

// "is a directory", "is a FIFO", "is a character device", ... or "does not exist" (following
// symbolic links); "" for a regular file or a directory, whose callers say what they wanted.
inline std::string describeFileKind(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    switch (status.type()) {
        case fs::file_type::not_found:
            return "does not exist";
        case fs::file_type::regular:
            return "";
        case fs::file_type::directory:
            return "is a directory";
        case fs::file_type::fifo:
            return "is a FIFO";
        case fs::file_type::character:
            return "is a character device";
        case fs::file_type::block:
            return "is a block device";
        case fs::file_type::socket:
            return "is a socket";
        default:
            return error ? "cannot be examined (" + error.message() + ")" : "is not a regular file";
    }
}

// "" when `path` is a regular file, else why it cannot be read as one ("does not exist",
// "is a directory, not a file", "is a FIFO, not a regular file", ...).
inline std::string whyNotRegularFile(const std::string& path) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) return "";
    const std::string kind = describeFileKind(path);
    if (kind == "does not exist" || kind.starts_with("cannot")) return kind;
    return kind + (kind == "is a directory" ? ", not a file" : ", not a regular file");
}

// "" when `path` is a directory, else why not ("does not exist", "is a regular file, not a
// directory", "is a FIFO, not a directory", ...).
inline std::string whyNotDirectory(const std::string& path) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) return "";
    const std::string kind = std::filesystem::is_regular_file(path, error) ? "is a regular file" : describeFileKind(path);
    if (kind == "does not exist" || kind.starts_with("cannot")) return kind;
    return kind + ", not a directory";
}

}  // namespace cohort
