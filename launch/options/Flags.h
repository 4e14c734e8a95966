#pragma once
// Flags: how the command line names what the layers below call settings.
//
// Layers below launch/ take enums and numbers and name configuration fields in their errors
// ({learningRate}, {batchSize}, see src/core/Errors.h). This file owns the other side: the text
// of a flag value turned into the enum a layer takes, every setting's flag, and an error's
// message respelled in flags — so the CLI says "--lr must be ..." where the library says
// "learningRate must be ...".
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "parallel/ParallelConfig.h"
#include "src/optim/LearningRateScaling.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/optim/Optimizer.h"
#include "src/train/TrainingStep.h"

namespace cohort::launch {

// Flag values to enums; each throws InputError naming the flag and the choices.
train::WorkspaceMode parseWorkspaceMode(const std::string& text);        // --workspace-mode enabled|none
parallel::TrainingMode parseTrainingMode(const std::string& text);       // --training-mode
parallel::OuterOptimizerKind parseOuterOptimizerKind(const std::string& text);  // --outer-optimizer
optim::OptimizerKind parseOptimizerKind(const std::string& text);        // --optimizer sgd|nesterov|adam
optim::ScheduleKind parseScheduleKind(const std::string& text);          // --lr-schedule constant|cosine
optim::LearningRateScaling parseLearningRateScaling(const std::string& text);  // --lr-scaling none|linear|sqrt|auto
std::vector<std::int64_t> parseHiddenSizes(const std::string& text);     // --hidden 1024,1024

// A size flag's bytes (> 0), or InputError naming the flag and giving `examples` ("512M or 8G").
std::int64_t byteSizeFlag(const std::string& text, const char* flag, const char* examples);

// The flag value that names a choice ("shared-gradients"), the inverse of the parsers above: what
// the settings text, the console and the metrics print.
const char* flagValue(train::WorkspaceMode value);
const char* flagValue(parallel::TrainingMode value);
const char* flagValue(parallel::OuterOptimizerKind value);
const char* flagValue(optim::OptimizerKind value);
const char* flagValue(optim::ScheduleKind value);
const char* flagValue(optim::LearningRateScaling value);
std::string flagValue(const std::vector<std::int64_t>& sizes);  // "1024,1024"

// The flag that sets `setting` ("learningRate" -> "--lr"); the setting itself when no flag does.
std::string flagFor(std::string_view setting);

// `error`'s message as the CLI prints it: settings spelled as flags, memory budgets with the flag
// that set them and advice, a worker's failure with its cause respelled.
std::string messageInFlags(const std::exception& error);

}  // namespace cohort::launch
