#pragma once
// Error types shared by every layer above memory/. The CLI maps them to exit codes:
// InputError (bad flags, config, data files, limits that cannot hold) -> 2, anything else -> 1.
//
// Layers below launch/ name configuration fields, never flags: a message that refers to a
// setting writes it as {field} (a field of a configuration struct, e.g. "{learningRate} must be
// positive"). what() spells each as the bare field name, which is what a library user set;
// launch/ respells them as the flags the user typed (launch/options/Flags.h).
#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cohort {

// The message as one line of text whatever it quotes from the input (a newline inside a JSON key,
// a control character in a header field): control characters shown as \n, \r, \t or \xNN, and a
// quoted value that runs on cut to 2,000 characters in all.
inline std::string oneLineMessage(std::string_view text) {
    static const char* digits = "0123456789abcdef";
    constexpr std::size_t kLongest = 2000;
    std::string out;
    out.reserve(std::min(text.size(), kLongest) + 16);
    for (const char c : text) {
        if (out.size() >= kLongest) return out + "...";
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (byte < 0x20 || byte == 0x7f) out += {'\\', 'x', digits[byte >> 4], digits[byte & 15]};
        else out += c;
    }
    return out;
}

// Bad input from the user: a flag, a config value, a data file. The message is one line that
// names the cause (which file/setting/value) and, where there is one, the fix.
class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& message) : std::runtime_error(oneLineMessage(message)) {}
};

// A message whose text names settings as {field}.
class SettingsMessage {
public:
    using Speller = std::function<std::string(std::string_view field)>;
    explicit SettingsMessage(std::string pattern) : pattern_(std::move(pattern)) {}
    virtual ~SettingsMessage() = default;
    const std::string& pattern() const { return pattern_; }
    // The first setting the message names ("" when none).
    std::string setting() const {
        const auto open = pattern_.find('{');
        const auto close = open == std::string::npos ? open : pattern_.find('}', open);
        return close == std::string::npos ? std::string() : pattern_.substr(open + 1, close - open - 1);
    }
    // The message with every {field} replaced by spell(field).
    std::string spelled(const Speller& spell) const { return render(pattern_, spell); }
    // The message with bare field names.
    static std::string withFieldNames(const std::string& pattern) {
        return render(pattern, [](std::string_view field) { return std::string(field); });
    }

private:
    static std::string render(const std::string& pattern, const Speller& spell) {
        std::string text;
        std::size_t at = 0;
        for (;;) {
            const auto open = pattern.find('{', at);
            const auto close = open == std::string::npos ? open : pattern.find('}', open);
            if (close == std::string::npos) break;
            text.append(pattern, at, open - at);
            text += spell(std::string_view(pattern).substr(open + 1, close - open - 1));
            at = close + 1;
        }
        text.append(pattern, at, std::string::npos);
        return text;
    }
    std::string pattern_;
};

// A setting with a value it cannot take (bad input, exit 2), e.g.
// SettingError("{epochs} must be at least 1, got 0").
class SettingError : public InputError, public SettingsMessage {
public:
    explicit SettingError(const std::string& pattern)
        : InputError(withFieldNames(pattern)), SettingsMessage(pattern) {}
};

// Training diverged (NaN/Inf loss or parameters).
class DivergenceError : public std::runtime_error, public SettingsMessage {
public:
    explicit DivergenceError(const std::string& pattern)
        : std::runtime_error(withFieldNames(pattern)), SettingsMessage(pattern) {}
};

}  // namespace cohort
