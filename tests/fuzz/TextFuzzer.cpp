// Text as `--data text` reads it (src/data/TextCorpus): UTF-8 decoding, the vocabulary and its cap,
// the split; and a checkpoint's vocabulary text. The first byte picks the tokenizer and the window.
#include <cstdint>
#include <string>
#include <string_view>

#include "src/data/TextCorpus.h"
#include "tests/fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto tokenizer = (data[0] & 1) ? cohort::data::Tokenizer::Byte : cohort::data::Tokenizer::Char;
    const std::int64_t window = 1 + (data[0] >> 1);
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    cohort::fuzzing::refusalsOnly([&] {
        const auto corpus = cohort::data::makeTextCorpus(text, "fuzz.txt", tokenizer, 0.1, window);
        // Every id decodes, and the decoded text is the input again.
        const std::string back = corpus.vocabulary.decode(corpus.train) + corpus.vocabulary.decode(corpus.validation);
        if (back != text) cohort::fuzzing::unexpected("round trip", "decoded text differs from the input");
    });
    return cohort::fuzzing::refusalsOnly([&] { cohort::data::Vocabulary::fromText(std::string(text), "fuzz"); });
}
