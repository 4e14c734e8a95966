#pragma once
// Shape: up to kMaxRank dimensions stored inline, so making a tensor never touches the heap.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace cohort {

class Shape {
public:
    static constexpr int kMaxRank = 6;

    Shape() = default;
    Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
    explicit Shape(const std::vector<std::int64_t>& dims) { assign(dims.begin(), dims.end()); }

    int rank() const { return rank_; }
    std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
    std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
    std::int64_t elementCount() const {
        std::int64_t count = 1;
        for (int i = 0; i < rank_; ++i) count *= dims_[static_cast<std::size_t>(i)];
        return count;
    }
    // Elements per row of the first axis (features per sample for a batch).
    std::int64_t innerCount() const { return rank_ == 0 ? 1 : elementCount() / dims_[0]; }
    // The same shape with the first axis replaced (batch size).
    Shape withFirst(std::int64_t first) const {
        Shape copy = *this;
        copy.dims_[0] = first;
        return copy;
    }
    // Prepends a batch axis.
    Shape withBatch(std::int64_t batch) const {
        if (rank_ == kMaxRank) throw std::invalid_argument("Shape: rank limit reached");
        Shape result;
        result.rank_ = rank_ + 1;
        result.dims_[0] = batch;
        for (int i = 0; i < rank_; ++i) result.dims_[static_cast<std::size_t>(i + 1)] = dims_[static_cast<std::size_t>(i)];
        return result;
    }
    std::vector<std::int64_t> toVector() const { return {dims_.begin(), dims_.begin() + rank_}; }
    std::string toString() const {
        std::string text = "[";
        for (int i = 0; i < rank_; ++i) {
            if (i) text += ',';
            text += std::to_string(dims_[static_cast<std::size_t>(i)]);
        }
        text += ']';
        return text;
    }
    bool operator==(const Shape& other) const {
        if (rank_ != other.rank_) return false;
        for (int i = 0; i < rank_; ++i) {
            if (dims_[static_cast<std::size_t>(i)] != other.dims_[static_cast<std::size_t>(i)]) return false;
        }
        return true;
    }

private:
    template <typename Iterator>
    void assign(Iterator begin, Iterator end) {
        for (auto it = begin; it != end; ++it) {
            if (rank_ == kMaxRank) throw std::invalid_argument("Shape: more than 6 dimensions");
            if (*it < 0) throw std::invalid_argument("Shape: negative dimension " + std::to_string(*it));
            dims_[static_cast<std::size_t>(rank_++)] = *it;
        }
    }
    std::array<std::int64_t, kMaxRank> dims_{};
    int rank_ = 0;
};

}  // namespace cohort
