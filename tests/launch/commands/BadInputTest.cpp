// Inputs that used to crash or hang `cohort`: each is refused at once with one line and exit 2.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "data/DataTestSupport.h"
#include "launch/CohortProcess.h"
#include "launch/MnistFixture.h"

namespace cohort {
namespace {

using data::testing_support::ScratchDirectory;
using testing_support::writeFixture;

const std::string kOneEpochMlp = " --device cpu --threads-per-worker 1 --hidden 16 --batch-size 16 --epochs 1 --quiet ";

// exit 2, one line that mentions `text`, within `seconds` (`timeout` guards against a hang).
void expectRefused(const std::string& arguments, const std::string& text, double seconds = 20.0) {
    const auto start = std::chrono::steady_clock::now();
    testing_support::expectInputError(arguments, text, "timeout -k 2 60");
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(took, seconds) << arguments;
}

TEST(BadInput, ADeeplyNestedModelFileIsRefusedNotACrash) {
    ScratchDirectory scratch;
    const std::string path = scratch.file("deep.json");
    std::ofstream(path) << "{\"layers\": " << std::string(200000, '[') << std::string(200000, ']') << "}";
    for (const char* command : {"train", "bench"}) {
        expectRefused(std::string(command) + " --data synthetic --device cpu --model-file " + path, "nested deeper than 64 levels");
    }
    const std::string huge = scratch.file("huge.json");
    std::ofstream(huge) << "{\"layers\": [" << std::string(2 << 20, ' ') << "]}";
    expectRefused("train --data synthetic --device cpu --model-file " + huge, "larger than 1 MiB");
}

TEST(BadInput, FifosAreRefusedInsteadOfBlocking) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    const std::string fifo = scratch.file("some.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expectRefused("train --data-dir " + scratch.str() + kOneEpochMlp + "--metrics " + fifo, "a FIFO that no process reads");
    expectRefused("train --data synthetic --device cpu --epochs 1 --model-file " + fifo, "not a regular file");
    // A data file that is a FIFO: refused before the open that would wait for a writer.
    for (const char* name : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"}) std::remove(scratch.file(name).c_str());
    ASSERT_EQ(::mkfifo(scratch.file("train-images-idx3-ubyte").c_str(), 0600), 0);
    expectRefused("train --data-dir " + scratch.str() + kOneEpochMlp, "not a regular file");
}

TEST(BadInput, AGzipBombIsStoppedAtTheSizeItsHeaderDeclares) {
    ScratchDirectory scratch;
    writeFixture(scratch.str(), 64, 16, false);
    // A header for 64 images of 28x28, then 512 MiB of zeros: about half a megabyte compressed.
    std::vector<std::uint8_t> header = {0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 0, 28, 0, 0, 0, 28};
    const std::string bomb = scratch.file("train-images-idx3-ubyte.gz");
    for (const char* name : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"}) std::remove(scratch.file(name).c_str());
    gzFile file = gzopen(bomb.c_str(), "wb9");
    ASSERT_NE(file, nullptr);
    gzwrite(file, header.data(), unsigned(header.size()));
    const std::vector<char> zeros(1 << 20, 0);
    for (int i = 0; i < 512; ++i) gzwrite(file, zeros.data(), unsigned(zeros.size()));
    gzclose(file);
    expectRefused("train --data-dir " + scratch.str() + kOneEpochMlp + "--maxphysicalbytes 400M", "inflates beyond the 50192 bytes",
                  10.0);
}

TEST(BadInput, SizesNoMachineHoldsAreRefusedUpFrontNamingTheFlag) {
    // Without a budget, the machine's physical memory is the limit; each names the flag to lower.
    expectRefused("train --data synthetic --device cpu --epochs 1 --hidden 16777216", "--hidden");
    expectRefused("train --data synthetic --device cpu --epochs 1 --prefetch-buffer 100000000", "lower --batch-size, --prefetch-buffer");
    expectRefused("train --data synthetic --device cpu --epochs 1 --batch-size 100000000", "of activations for --batch-size 100000000");
}

TEST(BadInput, EveryFlagValueIsCheckedWhetherOrNotTheRunUsesIt) {
    ScratchDirectory scratch;
    expectRefused("train --log-level chatty", "unknown --log-level 'chatty'");
    std::ofstream(scratch.file("run.ini")) << "log-level = loud\n";
    expectRefused("train --config " + scratch.file("run.ini"), "unknown --log-level 'loud'");
    expectRefused("train --config " + scratch.str(), "is a directory, not a file");
    expectRefused("train --device cpu --devices zero,one", "bad --devices 'zero,one'");
}

TEST(BadInput, MessagesNameWhatIsActuallyWrong) {
    ScratchDirectory scratch;
    const std::string file = scratch.file("notes.txt");
    std::ofstream(file) << "not a directory\n";
    // A regular file where a directory belongs is not "does not exist".
    for (const char* data : {"fashion-mnist", "mnist", "cifar10", "csv"}) {
        expectRefused(std::string("train --data ") + data + " --data-dir " + file + kOneEpochMlp, file + " is a regular file, not a directory");
    }
    expectRefused("train --data mnist --data-dir " + scratch.file("absent") + kOneEpochMlp, "put the four mnist IDX files");
    // Numbers out of their type's range are not "invalid" without a reason.
    expectRefused("train --lr 1e999", "('1e999') for option '--lr' is out of range");
    expectRefused("train --epochs 99999999999", "('99999999999') for option '--epochs' is out of range for this flag");
    expectRefused("train --workers 2.5", "('2.5') for option '--workers' must be a whole number");
    // Boost's message template once looped forever on a value holding its own placeholder.
    expectRefused("train --lr x%value%", "('x%25value%25') for option '--lr' is invalid", 5.0);
    expectRefused("train --x%option%=1", "unrecognised option '--x%25option%25", 5.0);
    // A device is what it is, not "empty" and not a std::bad_alloc after reading forever.
    expectRefused("report /dev/zero -o " + scratch.file("r.html"), "/dev/zero: it is a character device, not a regular file");
    expectRefused("evaluate --load /dev/zero", "/dev/zero: it is a character device, not a regular file");
    expectRefused("train --data synthetic" + kOneEpochMlp + "--resume /dev/zero", "/dev/zero: it is a character device, not a regular file");
}

TEST(BadInput, ALimitIsNamedWhereItIsHit) {
    // A layer over the cap: the cap is named (the size is positive).
    expectRefused("train --data synthetic --device cpu --hidden 100000000", "over the 16777216 a layer may have");
    // A CSV label over the class cap: the label and the cap are named, not a memory budget.
    ScratchDirectory scratch;
    for (const char* name : {"train.csv", "test.csv"}) std::ofstream(scratch.file(name)) << "1000000,0.5,0.2\n1,0.1,0.3\n";
    expectRefused("train --data csv --data-dir " + scratch.str() + kOneEpochMlp, "label 1000000 in column 0 is out of range");
    const auto result = testing_support::runCohort("train --data csv --data-dir " + scratch.str() + kOneEpochMlp);
    EXPECT_NE(result.err.find("labels 0-65535"), std::string::npos) << result.err;
}

TEST(BadInput, AReportOfAFileWithoutEventsIsRefused) {
    ScratchDirectory scratch;
    const std::string noise = scratch.file("noise.jsonl");
    std::ofstream(noise) << "\x01\x02 random bytes\n{\"not\": \"an event\"}\n[1, 2]\n";
    expectRefused("report " + noise + " -o " + scratch.file("r.html"), "has no event: none of its 3 lines");
    EXPECT_FALSE(std::filesystem::exists(scratch.file("r.html")));
    // Some bad lines among events: rendered, and the skipped lines counted.
    const std::string mixed = scratch.file("mixed.jsonl");
    std::ofstream(mixed) << "{\"event\":\"run\",\"schema\":1}\ngarbage\n{\"event\":\"done\"}\n";
    const auto result = testing_support::runCohort("report " + mixed + " -o " + scratch.file("m.html"));
    EXPECT_EQ(result.exitCode, 0) << result.err;
    EXPECT_NE(result.out.find("(2 events from " + mixed + "; skipped 1 line that is not an event)"), std::string::npos)
        << result.out;
    EXPECT_TRUE(std::filesystem::exists(scratch.file("m.html")));
}

TEST(BadInput, OutputsAreCheckedBeforeTheData) {
    // The data folder does not exist either: a run that loaded its data first would name it.
    const std::string late = "train --data csv --data-dir /nonexistent-data-folder --device cpu --epochs 1 ";
    ScratchDirectory scratch;
    for (const char* flag : {"--save", "--trace", "--report", "--metrics"}) {
        expectRefused(late + flag + " " + scratch.file("missing/out"), std::string(flag) + " " + scratch.file("missing/out"), 1.0);
    }
    expectRefused(late + "--checkpoint-dir " + scratch.file("missing/deeper"), "/nonexistent-data-folder");  // made, so fine
    expectRefused("evaluate --load x.safetensors --metrics " + scratch.file("missing/e.jsonl"), "does not exist", 1.0);
    expectRefused("report " + scratch.file("none.jsonl") + " -o x.html", "cannot read metrics file");
}

}  // namespace
}  // namespace cohort
