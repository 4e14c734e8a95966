#pragma once
// An output file of a run (--metrics, --save; later the report and the trace), written so that
// no data is ever lost:
//   * it is never one of the run's own inputs (data files, --config, --model-file, the
//     checkpoint it resumes from, its checkpoint directory): refused before training;
//   * an existing file is replaced only once the run has something to put in its place: lines
//     go to a temporary file beside it, renamed over the path at the first line, appended to from
//     then on; a run that fails before its first line leaves the old file as it was;
//   * every write is checked: a failure (a full disk) throws std::runtime_error naming the flag
//     and the path, so the run fails (exit 1) instead of ending with a file cut short.
// A path that exists and is not a regular file (/dev/stdout, a pipe) is written directly.
#include <cstdio>
#include <string>
#include <vector>

#include "launch/options/Options.h"

namespace cohort::launch {

class OutputFile {
public:
    OutputFile(std::string path, std::string flag);  // empty path: writes nothing
    // `append`: lines go at the end of an existing regular file at once (a job that continues
    // another's record, e.g. restarted by cohort launch); an absent file is made as above.
    OutputFile(std::string path, std::string flag, bool append);
    ~OutputFile();                                   // an unused temporary file is removed
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // line + '\n', flushed. `replaces` false: the line opens the file but does not yet count as
    // something to replace an old file with (a header record); the next line that does renames.
    void writeLine(const std::string& line, bool replaces = true);
    bool enabled() const { return file_ != nullptr; }

private:
    [[noreturn]] void fail(const std::string& what, int error);
    std::string path_, flag_, temporary_;
    std::FILE* file_ = nullptr;
};

// Writes `text` to `path` at once: a temporary file beside it, fsynced, renamed over it; a
// failure throws std::runtime_error naming `flag` and leaves the old file as it was.
void writeFileAtomically(const std::string& path, const std::string& text, const std::string& flag);

// The files a run reads: the data directory's files, --config, --model-file, --resume (a file, or
// the files of a directory), the files of --checkpoint-dir.
std::vector<std::string> runInputs(const RunOptions& options);
// Throws InputError when `output` (the value of `flag`) names one of `inputs`.
void refuseInputAsOutput(const std::string& output, const std::string& flag, const std::vector<std::string>& inputs);

// Before anything is loaded, so that a mistake is never found after the last epoch: a file output
// (`flag` PATH) can be written where it is asked for. A regular file or an absent one needs its
// folder to exist and take a new file (a probe file is made there and removed: permissions, a
// read-only or full file system all show); a device or a pipe is written directly and left to the
// write. Throws InputError (exit 2) naming the flag, the path and the reason. Empty: nothing.
void checkOutputFile(const std::string& path, const std::string& flag);
// The same for a folder of outputs (--checkpoint-dir): an existing one must be a folder that takes
// a new file; an absent one is made later, so its nearest existing parent must.
void checkOutputFolder(const std::string& path, const std::string& flag);

}  // namespace cohort::launch
