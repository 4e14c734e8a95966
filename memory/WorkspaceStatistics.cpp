// WorkspaceStatistics::toHuman / toJson.
#include <cstdio>
#include <string>

#include "memory/Workspace.h"

namespace cohort::memory {
namespace {

std::string human(std::size_t bytes) { return formatBytes(static_cast<std::int64_t>(bytes)); }

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

}  // namespace

std::string WorkspaceStatistics::toHuman() const {
    return "workspace [" + name + "] on " + toString(location) + ": block " + human(blockSize) +
           ", used " + human(used) + ", peak cycle " + human(peakCycleBytes) + ", spilled " +
           human(spilledBytes) + " (" + std::to_string(spilledAllocations) +
           " external allocations so far), pinned " + human(pinnedBytes) + ", " +
           std::to_string(cycles) + " cycles, generation " + std::to_string(generation) + ", " +
           std::to_string(reallocations) + " block allocations";
}

std::string WorkspaceStatistics::toJson() const {
    auto field = [](const char* key, auto value) {
        return std::string(",\"") + key + "\":" + std::to_string(value);
    };
    return "{\"workspace\":" + jsonString(name) + ",\"location\":" + jsonString(toString(location)) +
           field("block_bytes", blockSize) + field("used_bytes", used) +
           field("peak_cycle_bytes", peakCycleBytes) + field("spilled_bytes", spilledBytes) +
           field("spilled_allocations", spilledAllocations) + field("pinned_bytes", pinnedBytes) +
           field("cycles", cycles) + field("generation", generation) +
           field("reallocations", reallocations) + "}";
}

}  // namespace cohort::memory
