#pragma once
// Text for language models: a corpus file as token ids, its vocabulary, and the windows a training
// step reads.
//
// Tokenizers: `Char` — one token per Unicode character of UTF-8 text (the vocabulary is the
// file's distinct characters, sorted by code point, so the same text always gives the same ids);
// `Byte` — one token per byte (a fixed vocabulary of 256, any file). The vocabulary travels in a
// checkpoint (Vocabulary::text / fromText), so a model can be used without its training data.
//
// Split: the first (1 - valFraction) of the tokens train, the rest validate (as nanoGPT splits
// tiny-shakespeare), each at least one window (context + 1 tokens) long.
//
// Windows: a training window of `window` tokens starts at an offset that is a function of (seed,
// replica, iteration, row) alone — counter-based, so a resumed run reads exactly the text the
// uninterrupted one would have, and replicas read different text without coordinating.
// Validation reads `count` fixed windows spread evenly over its split.
//
// Bad input is an InputError naming the file and the cause: an empty file, a split shorter than
// one window, invalid UTF-8 (with the byte offset) for the char tokenizer, a vocabulary above
// kMaxVocabulary characters.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/data/Dataset.h"

namespace cohort::data {

enum class Tokenizer { Char, Byte };
const char* toString(Tokenizer tokenizer);  // "char", "byte"

// The most distinct characters a char vocabulary may have (the LM head and the embedding grow
// with it; a text with more is almost certainly not the text meant, or wants --tokenizer byte).
inline constexpr int kMaxVocabulary = 4096;

class Vocabulary {
public:
    Vocabulary() = default;
    // All 256 bytes.
    static Vocabulary bytes();
    // The distinct code points of `codePoints`, sorted.
    static Vocabulary ofCharacters(const std::vector<std::uint32_t>& codePoints);

    Tokenizer tokenizer() const { return tokenizer_; }
    int size() const { return int(symbols_.size()); }
    std::uint32_t symbol(int id) const { return symbols_.at(std::size_t(id)); }
    // -1 when `symbol` is not in the vocabulary.
    int idOf(std::uint32_t symbol) const;

    // Token ids of `text`; throws InputError naming the first character that is not in the
    // vocabulary (or the first invalid UTF-8 byte), `what` saying whose text it is ("--prompt").
    std::vector<std::int32_t> encode(std::string_view text, const std::string& what) const;
    // The text of `ids` (UTF-8 for Char).
    std::string decode(const std::vector<std::int32_t>& ids) const;

    // "char:<code points in hex, comma separated>" or "byte": what a checkpoint stores.
    std::string text() const;
    // The inverse of text(); throws InputError ("the vocabulary of <source> is damaged") otherwise.
    static Vocabulary fromText(const std::string& text, const std::string& source);

    bool operator==(const Vocabulary&) const = default;

private:
    Tokenizer tokenizer_ = Tokenizer::Byte;
    std::vector<std::uint32_t> symbols_;  // sorted; a token id is an index
};

struct TextCorpus {
    Vocabulary vocabulary;
    std::vector<std::int32_t> train;       // token ids
    std::vector<std::int32_t> validation;  // token ids
};

// Decodes UTF-8 into code points; throws InputError "<what>: invalid UTF-8 at byte N (...)" for
// a truncated sequence, a stray continuation byte, an overlong form, a surrogate or a code point
// above U+10FFFF.
std::vector<std::uint32_t> decodeUtf8(std::string_view text, const std::string& what);
// One code point as UTF-8.
void appendUtf8(std::uint32_t codePoint, std::string& out);

// The corpus of the text in `bytes` (read from `source`, named in errors).
TextCorpus makeTextCorpus(std::string_view bytes, const std::string& source, Tokenizer tokenizer, double valFraction,
                          std::int64_t window);
// The corpus of the file at `path` (a regular file, checked before it is opened).
TextCorpus loadTextCorpus(const std::string& path, Tokenizer tokenizer, double valFraction, std::int64_t window);

// The data sets a language model over samples of `positions` tokens trains on: "train" windowed over
// corpus.train (Dataset::windowed; its count, the samples of one evaluation interval, is the
// caller's), "test" the `validationWindows` fixed windows of the validation text (features: the
// window's first `positions` ids; labels: the `positions` ids after the first). Both carry the
// vocabulary; numClasses is its size.
DatasetSplits makeTextSplits(const TextCorpus& corpus, std::int64_t positions, std::int64_t validationWindows);

// Where training window `row` of replica `replica`'s step `iteration` starts, in [0, tokens -
// window]: a function of its arguments alone (tokens >= window).
std::int64_t trainingWindowStart(std::uint64_t seed, std::int64_t replica, std::int64_t iteration, std::int64_t row,
                                 std::int64_t tokens, std::int64_t window);
// Validation window i of `count` over `tokens` tokens: evenly spaced starts, the first at 0 and the
// last at tokens - window (count >= 1, tokens >= window).
std::int64_t validationWindowStart(std::int64_t i, std::int64_t count, std::int64_t tokens, std::int64_t window);

}  // namespace cohort::data
