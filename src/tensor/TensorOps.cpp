#include "src/tensor/TensorOps.h"

#include <stdexcept>
#include <vector>

namespace cohort::ops {

Tensor add(const Tensor& a, const Tensor& b) {
    const void* x = a.checked("add", "X");
    const void* y = b.checked("add", "Y");
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
        throw std::invalid_argument("add: shapes " + a.shape().toString() + " and " + b.shape().toString() +
                                    " (or types) differ");
    }
    Tensor result = Tensor::empty(a.shape(), a.dtype(), a.location());
    auto& backend = defaultBackendFor(a.location());
    backend.copy(a.byteCount(), x, result.raw());
    backend.axpby(a.dtype(), a.elementCount(), 1.0, y, 1.0, result.raw());
    return result;
}

void addScalarInPlace(Tensor& x, double value) {
    void* data = x.checked("addi", "X");
    Tensor ones = full(x.shape(), value, x.dtype(), x.location());
    defaultBackendFor(x.location()).axpby(x.dtype(), x.elementCount(), 1.0, ones.raw(), 1.0, data);
}

void fill(Tensor& x, double value) {
    defaultBackendFor(x.location()).fill(x.dtype(), x.elementCount(), value, x.checked("fill", "X"));
}

double sum(const Tensor& x) {
    const void* data = x.checked("sum", "X");
    std::vector<double> host(static_cast<std::size_t>(x.elementCount()));
    if (x.dtype() == DType::Float64) {
        defaultBackendFor(x.location()).copyToHost(x.byteCount(), data, host.data());
    } else {
        std::vector<float> narrow(host.size());
        defaultBackendFor(x.location()).copyToHost(x.byteCount(), data, narrow.data());
        for (std::size_t i = 0; i < narrow.size(); ++i) host[i] = narrow[i];
    }
    double total = 0.0;
    for (double v : host) total += v;
    return total;
}

Tensor full(const Shape& shape, double value, DType dtype, MemoryLocation location) {
    Tensor result = Tensor::empty(shape, dtype, location);
    defaultBackendFor(location).fill(dtype, result.elementCount(), value, result.raw());
    return result;
}

}  // namespace cohort::ops
