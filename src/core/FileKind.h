#pragma once
// What a path is, in the words of a one-line error. Readers ask before they open, so a directory,
// FIFO, device or socket is named as what it is (never "missing", "empty" or a blocking open),
// and a regular file given where a directory belongs is not "does not exist".
#include <filesystem>
#include <string>
#include <system_error>

namespace cohort {

namespace file_kind_detail {

// One look at the path (following symbolic links): its type, and "is a regular file",
// "is a directory", "is a FIFO", ... or "does not exist" / "cannot be examined (...)".
inline std::filesystem::file_type examine(const std::string& path, std::string& words) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::file_type type = fs::status(path, error).type();
    switch (type) {
        case fs::file_type::not_found: words = "does not exist"; break;
        case fs::file_type::regular: words = "is a regular file"; break;
        case fs::file_type::directory: words = "is a directory"; break;
        case fs::file_type::fifo: words = "is a FIFO"; break;
        case fs::file_type::character: words = "is a character device"; break;
        case fs::file_type::block: words = "is a block device"; break;
        case fs::file_type::socket: words = "is a socket"; break;
        default: words = error ? "cannot be examined (" + error.message() + ")" : "is of an unknown kind";
    }
    return type;
}

// "does not exist" and "cannot be examined" stand alone; a kind says what was wanted instead.
inline bool standsAlone(const std::string& words) { return words == "does not exist" || words.starts_with("cannot"); }

}  // namespace file_kind_detail

// "" when `path` is a regular file, else why it cannot be read as one ("does not exist",
// "is a directory, not a file", "is a FIFO, not a regular file", ...).
inline std::string whyNotRegularFile(const std::string& path) {
    std::string words;
    const std::filesystem::file_type type = file_kind_detail::examine(path, words);
    if (type == std::filesystem::file_type::regular) return "";
    if (file_kind_detail::standsAlone(words)) return words;
    return words + (type == std::filesystem::file_type::directory ? ", not a file" : ", not a regular file");
}

// "" when `path` is a directory, else why not ("does not exist", "is a regular file, not a
// directory", "is a FIFO, not a directory", ...).
inline std::string whyNotDirectory(const std::string& path) {
    std::string words;
    if (file_kind_detail::examine(path, words) == std::filesystem::file_type::directory) return "";
    return file_kind_detail::standsAlone(words) ? words : words + ", not a directory";
}

}  // namespace cohort
