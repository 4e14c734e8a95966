#pragma once
// Limits on JSON a user hands cohort (model files, checkpoint headers, metrics lines): the
// parsers cohort uses (Boost.PropertyTree, nlohmann::json) recurse once per nesting level, so a
// deeply nested document would overflow the stack. checkJsonNesting refuses one nested deeper
// than `maxDepth` before any parser sees it, in one pass that skips over strings.
#include <string>
#include <string_view>

#include "src/core/Errors.h"

namespace cohort {

inline constexpr int kMaxJsonDepth = 64;

// Throws InputError "<source>: JSON nested deeper than N levels (at byte B)".
inline void checkJsonNesting(std::string_view text, const std::string& source, int maxDepth = kMaxJsonDepth) {
    int depth = 0;
    bool inString = false, escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
            continue;
        }
        if (c == '"') inString = true;
        else if (c == '[' || c == '{') {
            if (++depth > maxDepth) {
                throw InputError(source + ": JSON nested deeper than " + std::to_string(maxDepth) + " levels (at byte " +
                                 std::to_string(i) + ")");
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

}  // namespace cohort
