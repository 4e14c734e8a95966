#pragma once
// Files replaced whole, so a reader never sees one half written and a crash leaves the old one:
// the bytes go to a temporary file beside the target, which is fsynced, renamed over the target,
// and the directory is fsynced (the rename itself is then durable). Checkpoints, the HTML report
// and the trace are written this way.
#include <cstddef>
#include <string>

namespace cohort {

// "<directory>/.<name>.<tag>-<pid>": a temporary file beside `path`, in the same file system.
std::string temporaryPathBeside(const std::string& path, const std::string& tag);

// Replaces `path` with `bytes` bytes at `data` as above. On any failure the temporary file is
// removed, `path` is left as it was, and std::runtime_error says
// "cannot write <what>: <step>: <reason>" (a full disk included).
void replaceFileAtomically(const std::string& path, const void* data, std::size_t bytes, const std::string& what);

}  // namespace cohort
