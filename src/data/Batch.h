#pragma once
// Batch: a caller-owned view that BatchIterator fills with copied rows.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::data {

// `features` holds room for capacity*featureSize floats and `labels` for capacity*labelSize labels;
// after a fill, the first `size` rows are valid.
struct Batch {
    std::size_t size = 0;
    float* features = nullptr;
    std::int32_t* labels = nullptr;
};

// Owns the buffers of one Batch of a fixed capacity (allocated once, reused for every batch).
class BatchBuffer {
public:
    BatchBuffer(std::size_t capacity, std::size_t featureSize, std::size_t labelSize = 1)
        : features_(capacity * featureSize), labels_(capacity * labelSize) {
        batch_.features = features_.data();
        batch_.labels = labels_.data();
    }
    BatchBuffer(const BatchBuffer&) = delete;
    BatchBuffer& operator=(const BatchBuffer&) = delete;

    Batch& batch() { return batch_; }
    const Batch& batch() const { return batch_; }

private:
    std::vector<float> features_;
    std::vector<std::int32_t> labels_;
    Batch batch_;
};

}  // namespace cohort::data
