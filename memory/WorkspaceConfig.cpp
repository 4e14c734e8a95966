// WorkspaceConfig::validate: rejects combinations that cannot work, naming the field.
#include <cmath>
#include <stdexcept>
#include <string>

#include "memory/Workspace.h"

namespace cohort::memory {

void WorkspaceConfig::validate() const {
    if (maxSize != 0 && maxSize < minSize)
        throw std::invalid_argument("WorkspaceConfig.maxSize (" +
                                    formatBytes(static_cast<std::int64_t>(maxSize)) +
                                    ") is smaller than minSize (" +
                                    formatBytes(static_cast<std::int64_t>(minSize)) +
                                    "); raise maxSize, lower minSize, or set maxSize to 0 (unlimited)");
    if (!std::isfinite(overallocationLimit) || overallocationLimit < 0.0)
        throw std::invalid_argument("WorkspaceConfig.overallocationLimit must be a finite value >= 0 "
                                    "(it is the extra fraction added to the learned size), got " +
                                    std::to_string(overallocationLimit));
    if (cyclesBeforeInitialization < 0)
        throw std::invalid_argument("WorkspaceConfig.cyclesBeforeInitialization must be >= 0, got " +
                                    std::to_string(cyclesBeforeInitialization));
    if (policyLearning == LearningPolicy::OverTime && cyclesBeforeInitialization == 0)
        throw std::invalid_argument("WorkspaceConfig.cyclesBeforeInitialization must be > 0 with "
                                    "LearningPolicy::OverTime (the cycles observed before sizing "
                                    "the block); set it or use LearningPolicy::FirstLoop");
    if (location.kind == MemoryKind::Device && location.device < 0)
        throw std::invalid_argument("WorkspaceConfig.location is a device with ordinal " +
                                    std::to_string(location.device) +
                                    "; use MemoryLocation::onDevice(n) with n >= 0");
}

}  // namespace cohort::memory
