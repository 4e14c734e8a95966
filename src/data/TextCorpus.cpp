// Text corpora for language models (see src/data/TextCorpus.h).
#include "src/data/TextCorpus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "kernels/SeedMixing.h"
#include "src/core/Errors.h"
#include "src/core/FileKind.h"
#include "src/data/FileContents.h"

namespace cohort::data {
namespace {

std::string hex(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%X", static_cast<unsigned>(value));
    return text;
}

// "U+0041 'A'" for a printable ASCII character, "U+00E9" otherwise.
std::string describeCharacter(std::uint32_t codePoint) {
    std::string text = "U+" + std::string(codePoint < 0x1000 ? 4 - hex(codePoint).size() : 0, '0') + hex(codePoint);
    if (codePoint >= 0x20 && codePoint < 0x7F) text += std::string(" '") + char(codePoint) + "'";
    return text;
}

[[noreturn]] void invalidUtf8(const std::string& what, std::size_t offset, const char* why) {
    throw InputError(what + ": invalid UTF-8 at byte " + std::to_string(offset) + " (" + why +
                     "); is it another encoding? --tokenizer byte reads any file");
}

// The code point of the sequence starting at text[at] (advancing `at`), checked as RFC 3629 asks.
std::uint32_t decodeOne(std::string_view text, std::size_t& at, const std::string& what) {
    const auto byte = [&text](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
    const std::size_t start = at;
    const std::uint8_t lead = byte(at++);
    if (lead < 0x80) return lead;
    int length = 0;
    std::uint32_t value = 0, smallest = 0;
    if ((lead & 0xE0) == 0xC0) length = 2, value = lead & 0x1F, smallest = 0x80;
    else if ((lead & 0xF0) == 0xE0) length = 3, value = lead & 0x0F, smallest = 0x800;
    else if ((lead & 0xF8) == 0xF0) length = 4, value = lead & 0x07, smallest = 0x10000;
    else invalidUtf8(what, start, (lead & 0xC0) == 0x80 ? "a continuation byte with no lead byte" : "a byte UTF-8 never uses");
    for (int i = 1; i < length; ++i, ++at) {
        if (at >= text.size()) invalidUtf8(what, start, "a sequence cut short by the end of the text");
        if ((byte(at) & 0xC0) != 0x80) invalidUtf8(what, start, "a sequence cut short by another character");
        value = (value << 6) | (byte(at) & 0x3F);
    }
    if (value < smallest) invalidUtf8(what, start, "an overlong encoding");
    if (value >= 0xD800 && value <= 0xDFFF) invalidUtf8(what, start, "a UTF-16 surrogate");
    if (value > 0x10FFFF) invalidUtf8(what, start, "a code point above U+10FFFF");
    return value;
}

std::vector<std::uint32_t> symbolsOf(std::string_view bytes, const std::string& source, Tokenizer tokenizer) {
    if (tokenizer == Tokenizer::Char) return decodeUtf8(bytes, source);
    std::vector<std::uint32_t> symbols(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) symbols[i] = static_cast<std::uint8_t>(bytes[i]);
    return symbols;
}

}  // namespace

const char* toString(Tokenizer tokenizer) { return tokenizer == Tokenizer::Char ? "char" : "byte"; }

std::vector<std::uint32_t> decodeUtf8(std::string_view text, const std::string& what) {
    std::vector<std::uint32_t> codePoints;
    codePoints.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) codePoints.push_back(decodeOne(text, at, what));
    return codePoints;
}

void appendUtf8(std::uint32_t codePoint, std::string& out) {
    if (codePoint < 0x80) {
        out.push_back(char(codePoint));
    } else if (codePoint < 0x800) {
        out.push_back(char(0xC0 | (codePoint >> 6)));
        out.push_back(char(0x80 | (codePoint & 0x3F)));
    } else if (codePoint < 0x10000) {
        out.push_back(char(0xE0 | (codePoint >> 12)));
        out.push_back(char(0x80 | ((codePoint >> 6) & 0x3F)));
        out.push_back(char(0x80 | (codePoint & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (codePoint >> 18)));
        out.push_back(char(0x80 | ((codePoint >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((codePoint >> 6) & 0x3F)));
        out.push_back(char(0x80 | (codePoint & 0x3F)));
    }
}

Vocabulary Vocabulary::bytes() {
    Vocabulary vocabulary;
    vocabulary.tokenizer_ = Tokenizer::Byte;
    for (std::uint32_t b = 0; b < 256; ++b) vocabulary.symbols_.push_back(b);
    return vocabulary;
}

Vocabulary Vocabulary::ofCharacters(const std::vector<std::uint32_t>& codePoints) {
    Vocabulary vocabulary;
    vocabulary.tokenizer_ = Tokenizer::Char;
    vocabulary.symbols_ = codePoints;
    std::sort(vocabulary.symbols_.begin(), vocabulary.symbols_.end());
    vocabulary.symbols_.erase(std::unique(vocabulary.symbols_.begin(), vocabulary.symbols_.end()), vocabulary.symbols_.end());
    return vocabulary;
}

int Vocabulary::idOf(std::uint32_t symbol) const {
    const auto found = std::lower_bound(symbols_.begin(), symbols_.end(), symbol);
    return found != symbols_.end() && *found == symbol ? int(found - symbols_.begin()) : -1;
}

std::vector<std::int32_t> Vocabulary::encode(std::string_view text, const std::string& what) const {
    std::vector<std::int32_t> ids;
    for (const std::uint32_t symbol : symbolsOf(text, what, tokenizer_)) {
        const int id = idOf(symbol);
        if (id < 0) {
            throw InputError(what + " has the character " + describeCharacter(symbol) +
                             ", which is not in the model's vocabulary of " + std::to_string(size()) + " characters");
        }
        ids.push_back(id);
    }
    return ids;
}

std::string Vocabulary::decode(const std::vector<std::int32_t>& ids) const {
    std::string text;
    for (const std::int32_t id : ids) {
        if (tokenizer_ == Tokenizer::Char) appendUtf8(symbol(id), text);
        else text.push_back(char(symbol(id)));
    }
    return text;
}

std::string Vocabulary::text() const {
    if (tokenizer_ == Tokenizer::Byte) return "byte";
    std::string text = "char:";
    for (std::size_t i = 0; i < symbols_.size(); ++i) text += (i ? "," : "") + hex(symbols_[i]);
    return text;
}

Vocabulary Vocabulary::fromText(const std::string& text, const std::string& source) {
    if (text == "byte") return bytes();
    const auto damaged = [&source] { return InputError("the vocabulary of " + source + " is damaged"); };
    if (text.rfind("char:", 0) != 0) throw damaged();
    std::vector<std::uint32_t> symbols;
    for (std::size_t at = 5; at < text.size();) {
        const std::size_t end = std::min(text.find(',', at), text.size());
        std::uint32_t value = 0;
        const auto parsed = std::from_chars(text.data() + at, text.data() + end, value, 16);
        if (parsed.ec != std::errc() || parsed.ptr != text.data() + end || value > 0x10FFFF) throw damaged();
        if (!symbols.empty() && value <= symbols.back()) throw damaged();  // written sorted and distinct
        symbols.push_back(value);
        at = end + 1;
    }
    if (symbols.empty() || int(symbols.size()) > kMaxVocabulary) throw damaged();
    return ofCharacters(symbols);
}

TextCorpus makeTextCorpus(std::string_view bytes, const std::string& source, Tokenizer tokenizer, double valFraction,
                          std::int64_t window) {
    if (!(valFraction > 0.0 && valFraction < 1.0)) {
        throw InputError("--val-fraction must be in (0, 1), got " + std::to_string(valFraction));
    }
    if (bytes.empty()) throw InputError("text file " + source + " is empty");
    const std::vector<std::uint32_t> symbols = symbolsOf(bytes, "text file " + source, tokenizer);
    TextCorpus corpus;
    corpus.vocabulary = tokenizer == Tokenizer::Byte ? Vocabulary::bytes() : Vocabulary::ofCharacters(symbols);
    if (corpus.vocabulary.size() > kMaxVocabulary) {
        throw InputError("text file " + source + " has " + std::to_string(corpus.vocabulary.size()) +
                         " distinct characters, over the " + std::to_string(kMaxVocabulary) +
                         " a char vocabulary may have; use --tokenizer byte");
    }
    const auto total = std::int64_t(symbols.size());
    const auto trainTokens = std::int64_t(std::floor(double(total) * (1.0 - valFraction)));
    for (const auto& [name, tokens] : {std::pair{"training", trainTokens}, std::pair{"validation", total - trainTokens}}) {
        if (tokens < window) {
            throw InputError("text file " + source + " is too short: its " + name + " part has " + std::to_string(tokens) +
                             " tokens, fewer than one window of " + std::to_string(window) + " (--context + 1)");
        }
    }
    std::vector<std::int32_t> ids(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) ids[i] = corpus.vocabulary.idOf(symbols[i]);
    corpus.train.assign(ids.begin(), ids.begin() + trainTokens);
    corpus.validation.assign(ids.begin() + trainTokens, ids.end());
    return corpus;
}

TextCorpus loadTextCorpus(const std::string& path, Tokenizer tokenizer, double valFraction, std::int64_t window) {
    if (const std::string why = whyNotRegularFile(path); !why.empty()) throw InputError("cannot read text file " + path + ": it " + why);
    const std::vector<std::uint8_t> bytes = readFileBytes(path, "text file");
    return makeTextCorpus(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, tokenizer,
                          valFraction, window);
}

std::int64_t trainingWindowStart(std::uint64_t seed, std::int64_t replica, std::int64_t iteration, std::int64_t row,
                                 std::int64_t tokens, std::int64_t window) {
    const auto range = static_cast<std::uint64_t>(tokens - window + 1);
    // A stream per replica, a counter per (iteration, row); rows of one step never collide.
    const std::uint64_t stream = kernels::dataStreamSeed(seed, static_cast<std::uint64_t>(replica) + kernels::kStreamOffset);
    const std::uint64_t draw = kernels::splitmix64(stream ^ kernels::mixBits((static_cast<std::uint64_t>(iteration) << 20) +
                                                                               static_cast<std::uint64_t>(row) + 1));
    // Lemire's multiply-shift: uniform in [0, range) up to 2^-64, without a division.
    return static_cast<std::int64_t>((static_cast<unsigned __int128>(draw) * range) >> 64);
}

std::int64_t validationWindowStart(std::int64_t i, std::int64_t count, std::int64_t tokens, std::int64_t window) {
    if (count <= 1) return 0;
    return (tokens - window) * i / (count - 1);
}

DatasetSplits makeTextSplits(const TextCorpus& corpus, std::int64_t positions, std::int64_t validationWindows) {
    DatasetSplits splits;
    for (Dataset* set : {&splits.train, &splits.test}) {
        set->sampleShape = {std::size_t(positions)};
        set->featureSize = std::size_t(positions);
        set->labelSize = std::size_t(positions);
        set->numClasses = corpus.vocabulary.size();
        set->vocabulary = corpus.vocabulary.text();
    }
    splits.train.name = "text";
    splits.train.tokens = corpus.train;
    splits.test.name = "text-validation";
    splits.test.count = std::size_t(validationWindows);
    splits.test.features.resize(splits.test.count * std::size_t(positions));
    splits.test.labels.resize(splits.test.count * std::size_t(positions));
    const auto tokens = std::int64_t(corpus.validation.size());
    for (std::int64_t i = 0; i < validationWindows; ++i) {
        const std::int64_t start = validationWindowStart(i, validationWindows, tokens, positions + 1);
        for (std::int64_t t = 0; t < positions; ++t) {
            splits.test.features[std::size_t(i * positions + t)] = float(corpus.validation[std::size_t(start + t)]);
            splits.test.labels[std::size_t(i * positions + t)] = corpus.validation[std::size_t(start + t + 1)];
        }
    }
    return splits;
}

}  // namespace cohort::data
