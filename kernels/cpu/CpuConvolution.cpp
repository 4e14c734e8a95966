// The CPU backend's convolution (im2col + one GEMM per product) and pooling loops.
#include "kernels/cpu/CpuConvolution.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/DTypeDispatch.h"
#include "kernels/ShapeChecks.h"
#include "kernels/cpu/ParallelThreshold.h"

namespace cohort::kernels::cpu_detail {
namespace {

// Bytes of one [rows, batch*outH*outW] matrix, rounded up so the next part stays aligned.
std::size_t matrixBytes(DType dtype, const ConvolutionShape& s, std::int64_t rows) {
    return alignUp(std::size_t(rows) * std::size_t(s.batch * s.outHeight() * s.outWidth()) * sizeOf(dtype));
}

// columns[(c*k + ki)*k + kj][n*outHW + oy*outW + ox] = x[n][c][oy*s - p + ki][ox*s - p + kj] (0 outside).
template <typename T>
void im2col(const ConvolutionShape& g, const T* input, T* columns) {
    const std::int64_t outH = g.outHeight(), outW = g.outWidth(), outHW = outH * outW;
    const std::int64_t rowStride = g.batch * outHW, sampleSize = g.inChannels * g.height * g.width;
    // Samples write disjoint columns: split them across the worker's OpenMP threads.
#pragma omp parallel for schedule(static) if (g.batch * sampleSize >= kParallelElements)
    for (std::int64_t n = 0; n < g.batch; ++n) {
        const T* x = input + n * sampleSize;
        for (std::int64_t c = 0; c < g.inChannels; ++c) {
            for (std::int64_t ki = 0; ki < g.kernel; ++ki) {
                for (std::int64_t kj = 0; kj < g.kernel; ++kj) {
                    T* row = columns + ((c * g.kernel + ki) * g.kernel + kj) * rowStride + n * outHW;
                    for (std::int64_t oy = 0; oy < outH; ++oy) {
                        const std::int64_t iy = oy * g.stride - g.padding + ki;
                        T* out = row + oy * outW;
                        if (iy < 0 || iy >= g.height) {
                            std::fill(out, out + outW, T(0));
                            continue;
                        }
                        const T* line = x + (c * g.height + iy) * g.width;
                        for (std::int64_t ox = 0; ox < outW; ++ox) {
                            const std::int64_t ix = ox * g.stride - g.padding + kj;
                            out[ox] = (ix >= 0 && ix < g.width) ? line[ix] : T(0);
                        }
                    }
                }
            }
        }
    }
}

// The adjoint of im2col: gradInput = scattered-and-summed columns (overwritten).
template <typename T>
void col2im(const ConvolutionShape& g, const T* columns, T* gradInput) {
    const std::int64_t outH = g.outHeight(), outW = g.outWidth(), outHW = outH * outW;
    const std::int64_t rowStride = g.batch * outHW, sampleSize = g.inChannels * g.height * g.width;
    // Each sample scatters into its own gradient only: parallel over samples, deterministic.
#pragma omp parallel for schedule(static) if (g.batch * sampleSize >= kParallelElements)
    for (std::int64_t n = 0; n < g.batch; ++n) {
        T* dx = gradInput + n * sampleSize;
        std::fill(dx, dx + sampleSize, T(0));
        for (std::int64_t c = 0; c < g.inChannels; ++c) {
            for (std::int64_t ki = 0; ki < g.kernel; ++ki) {
                for (std::int64_t kj = 0; kj < g.kernel; ++kj) {
                    const T* row = columns + ((c * g.kernel + ki) * g.kernel + kj) * rowStride + n * outHW;
                    for (std::int64_t oy = 0; oy < outH; ++oy) {
                        const std::int64_t iy = oy * g.stride - g.padding + ki;
                        if (iy < 0 || iy >= g.height) continue;
                        const T* in = row + oy * outW;
                        T* line = dx + (c * g.height + iy) * g.width;
                        for (std::int64_t ox = 0; ox < outW; ++ox) {
                            const std::int64_t ix = ox * g.stride - g.padding + kj;
                            if (ix >= 0 && ix < g.width) line[ix] += in[ox];
                        }
                    }
                }
            }
        }
    }
}

// output[n][o][p] = product[o][n*HW + p] + bias[o] (bias nullable)
template <typename T>
void scatterWithBias(std::int64_t batch, std::int64_t channels, std::int64_t hw, const T* product, const T* bias,
                     T* output) {
#pragma omp parallel for schedule(static) if (batch * channels * hw >= kParallelElements)
    for (std::int64_t n = 0; n < batch; ++n) {
        for (std::int64_t o = 0; o < channels; ++o) {
            const T* from = product + o * batch * hw + n * hw;
            T* to = output + (n * channels + o) * hw;
            const T b = bias ? bias[o] : T(0);
            for (std::int64_t p = 0; p < hw; ++p) to[p] = from[p] + b;
        }
    }
}

// deltaT[o][n*HW + p] = delta[n][o][p]; biasGradient[o] (nullable) = sum over n, p.
template <typename T>
void gatherWithBiasGradient(std::int64_t batch, std::int64_t channels, std::int64_t hw, const T* delta, T* deltaT,
                            T* biasGradient) {
    // Parallel over output channels; each channel sums its samples in order (deterministic).
#pragma omp parallel for schedule(static) if (batch * channels * hw >= kParallelElements)
    for (std::int64_t o = 0; o < channels; ++o) {
        T total = T(0);
        for (std::int64_t n = 0; n < batch; ++n) {
            const T* from = delta + (n * channels + o) * hw;
            T* to = deltaT + o * batch * hw + n * hw;
            T sum = T(0);
            for (std::int64_t p = 0; p < hw; ++p) {
                to[p] = from[p];
                sum += from[p];
            }
            total += sum;
        }
        if (biasGradient) biasGradient[o] = total;
    }
}

// Index (within its plane) of the first maximum of the window at (oy, ox), scanning row-major.
// Branch-free selects: after a ReLU many windows tie at zero, and a data-dependent branch per
// element costs more than the comparisons.
template <typename T>
std::int64_t windowArgmax(const PoolingShape& g, const T* plane, std::int64_t oy, std::int64_t ox) {
    std::int64_t best = oy * g.stride * g.width + ox * g.stride;
    T bestValue = plane[best];
    for (std::int64_t ky = 0; ky < g.window; ++ky) {
        const std::int64_t row = (oy * g.stride + ky) * g.width + ox * g.stride;
        for (std::int64_t kx = 0; kx < g.window; ++kx) {
            const T value = plane[row + kx];
            const bool greater = value > bestValue;
            bestValue = greater ? value : bestValue;
            best = greater ? row + kx : best;
        }
    }
    return best;
}

// Planes (one channel of one sample) are independent: the loops split them over threads.
template <typename T>
void poolForward(PoolingMode mode, const PoolingShape& g, const T* x, T* y) {
    const std::int64_t planes = g.batch * g.channels, outH = g.outHeight(), outW = g.outWidth();
    const T scale = T(1) / T(g.window * g.window);
#pragma omp parallel for schedule(static) if (planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const T* in = x + plane * g.height * g.width;
        T* out = y + plane * outH * outW;
        for (std::int64_t oy = 0; oy < outH; ++oy) {
            for (std::int64_t ox = 0; ox < outW; ++ox) {
                if (mode == PoolingMode::Max) {
                    out[oy * outW + ox] = in[windowArgmax(g, in, oy, ox)];
                    continue;
                }
                T sum = T(0);
                for (std::int64_t ky = 0; ky < g.window; ++ky) {
                    const T* row = in + (oy * g.stride + ky) * g.width + ox * g.stride;
                    for (std::int64_t kx = 0; kx < g.window; ++kx) sum += row[kx];
                }
                out[oy * outW + ox] = sum * scale;
            }
        }
    }
}

template <typename T>
void poolBackward(PoolingMode mode, const PoolingShape& g, const T* x, const T* dy, T* dx) {
    const std::int64_t planes = g.batch * g.channels, outH = g.outHeight(), outW = g.outWidth();
    const T scale = T(1) / T(g.window * g.window);
#pragma omp parallel for schedule(static) if (planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const T* in = x + plane * g.height * g.width;
        const T* delta = dy + plane * outH * outW;
        T* grad = dx + plane * g.height * g.width;
        std::fill(grad, grad + g.height * g.width, T(0));
        for (std::int64_t oy = 0; oy < outH; ++oy) {
            for (std::int64_t ox = 0; ox < outW; ++ox) {
                if (mode == PoolingMode::Max) {
                    const std::int64_t at = windowArgmax(g, in, oy, ox);
                    if (!g.reluMask || in[at] > T(0)) grad[at] += delta[oy * outW + ox];
                    continue;
                }
                const T value = delta[oy * outW + ox] * scale;
                for (std::int64_t ky = 0; ky < g.window; ++ky) {
                    T* row = grad + (oy * g.stride + ky) * g.width + ox * g.stride;
                    for (std::int64_t kx = 0; kx < g.window; ++kx) row[kx] += value;
                }
            }
        }
        if (g.reluMask && mode != PoolingMode::Max) {
            for (std::int64_t i = 0; i < g.height * g.width; ++i) grad[i] = in[i] > T(0) ? grad[i] : T(0);
        }
    }
}

}  // namespace

std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) {
    requireShape(shape, "convolutionWorkspaceBytes");
    const std::int64_t first = pass == ConvolutionPass::Forward ? shape.patch() : shape.outChannels;
    const std::int64_t second = pass == ConvolutionPass::Forward ? shape.outChannels : shape.patch();
    return matrixBytes(dtype, shape, first) + matrixBytes(dtype, shape, second);
}

void convolutionForward(Backend& gemm, DType dtype, const ConvolutionShape& s, const void* x, const void* weights,
                        const void* bias, void* y, void* workspace, std::size_t workspaceBytes) {
    requireShape(s, "convolutionForward");
    requireWorkspace(convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Forward), workspaceBytes,
                     "convolutionForward");
    const std::int64_t hw = s.outHeight() * s.outWidth(), wide = s.batch * hw, k = s.patch();
    void* columns = workspace;
    void* product = static_cast<char*>(workspace) + matrixBytes(dtype, s, k);
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        im2col(s, static_cast<const T*>(x), static_cast<T*>(columns));
    });
    gemm.gemm(dtype, false, false, s.outChannels, wide, k, 1.0, weights, k, columns, wide, 0.0, product, wide);
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        scatterWithBias(s.batch, s.outChannels, hw, static_cast<const T*>(product), static_cast<const T*>(bias),
                        static_cast<T*>(y));
    });
}

void convolutionBackward(Backend& gemm, DType dtype, const ConvolutionShape& s, const void* x,
                         const void* weights, const void* dy, void* dx, void* dweights, void* dbias,
                         const void* forwardWorkspace, void* workspace, std::size_t workspaceBytes) {
    requireShape(s, "convolutionBackward");
    requireWorkspace(convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Backward), workspaceBytes,
                     "convolutionBackward");
    const std::int64_t hw = s.outHeight() * s.outWidth(), wide = s.batch * hw, k = s.patch();
    void* deltaT = workspace;
    void* region = static_cast<char*>(workspace) + matrixBytes(dtype, s, s.outChannels);
    const void* columns = forwardWorkspace;  // the forward's im2col sits at its start
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        gatherWithBiasGradient(s.batch, s.outChannels, hw, static_cast<const T*>(dy), static_cast<T*>(deltaT),
                               static_cast<T*>(dbias));
        if (!columns) {
            im2col(s, static_cast<const T*>(x), static_cast<T*>(region));
            columns = region;
        }
    });
    // dW = deltaT * columns^T: the batch is summed by the GEMM's inner dimension.
    gemm.gemm(dtype, false, true, s.outChannels, k, wide, 1.0, deltaT, wide, columns, wide, 0.0, dweights, k);
    if (!dx) return;
    // Column gradients overwrite the region (the recomputed columns, if any, are no longer needed).
    gemm.gemm(dtype, true, false, k, wide, s.outChannels, 1.0, weights, k, deltaT, wide, 0.0, region, wide);
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        col2im(s, static_cast<const T*>(region), static_cast<T*>(dx));
    });
}

void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y) {
    requireShape(shape, "poolingForward");
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        poolForward(mode, shape, static_cast<const T*>(x), static_cast<T*>(y));
    });
}

void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void* dy,
                     void* dx) {
    requireShape(shape, "poolingBackward");
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        poolBackward(mode, shape, static_cast<const T*>(x), static_cast<const T*>(dy), static_cast<T*>(dx));
    });
}

}  // namespace cohort::kernels::cpu_detail
