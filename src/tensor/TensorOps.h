#pragma once
// A few whole-tensor operations on any backend, each checking its arguments' workspace pointers
// (scope-panic checks) before touching their bytes. Layers use the backend directly; these are
// for user code, examples and tests.
#include "src/tensor/Tensor.h"

namespace cohort::ops {

// New tensor (current workspace scope) = a + b; shapes must match.
Tensor add(const Tensor& a, const Tensor& b);
// In place: x += value.
void addScalarInPlace(Tensor& x, double value);
// In place: x = value.
void fill(Tensor& x, double value);
// Sum of all elements (double accumulation), read back to the host.
double sum(const Tensor& x);
// New tensor in the current scope, filled with value.
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
            MemoryLocation location = MemoryLocation::host());

}  // namespace cohort::ops
