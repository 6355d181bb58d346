// Convolutions through oneDNN on the CPU, float32: the three passes of conv2d (conv.cpp
// calls them first and falls back to its own im2col + GEMM when they return false), and the
// interface the fused convolution ops call (bias, ReLU and accumulation in the output write;
// the bias gradient with the filter gradient).
//
// oneDNN is optional twice over: the build needs only its headers (CMakeLists.txt,
// NEWTON_ONEDNN), and the library is opened at run time (note [oneDNN at run time] in
// onednn_library.cpp), so the addon loads, and falls back, on a machine without it.
// Which implementation the conv ops use is a setting (ConvImpl), oneDNN by default when it
// loaded; float64 always runs the built-in path (oneDNN has no f64 convolutions).
#pragma once

#include <cstdint>
#include <string>

namespace newton {

// Which implementation the CPU convolutions use. Tests run both against the reference.
enum class ConvImpl : int { Builtin = 0, OneDnn = 1 };
// Whether the oneDNN library was found and loaded (opened on the first call).
bool onednn_available();
// "3.2.0" when available; else empty.
std::string onednn_version();
// Why oneDNN is unavailable (which build setting, which library, what the loader said);
// empty when available.
std::string onednn_missing();
// The library file in use ("/…/libdnnl.so.3"), when available; else empty.
std::string onednn_library();
ConvImpl conv_impl();  // default: OneDnn when available, else Builtin
void set_conv_impl(ConvImpl impl);  // throws ValueError naming why when OneDnn is unavailable

// The shapes of one convolution: x (N, C, H, W), w (K, C, R, S), y (N, K, P, Q), zero padding.
struct OneDnnConvShape {
  int64_t n, c, h, w, k, r, s, p, q, stride_h, stride_w, pad_h, pad_w;
};

// Each returns false having done nothing when oneDNN is not in use: unavailable, ConvImpl is
// Builtin, called inside a parallel_for body (parallel.h: the pool's threads must not start
// OpenMP teams), or oneDNN has no implementation for the shapes. Failures of oneDNN itself
// throw Error naming the pass and the shapes. Results depend on the thread count within
// rounding only (oneDNN splits its reductions by thread; note [oneDNN threads] in
// onednn_library.cpp).

// y (N, K, P, Q) = [relu](x ⋆ w + bias); with accumulate, y += x ⋆ w (+ bias) instead (then
// relu must be false: ValueError otherwise). bias (K) may be null.
bool onednn_conv_forward(const OneDnnConvShape& sh, const float* x, const float* w, const float* bias, bool relu,
                         bool accumulate, float* y);
// dx (N, C, H, W) = Wᵀ ∗ dy, dy (N, K, P, Q), w (K, C, R, S).
bool onednn_conv_backward_data(const OneDnnConvShape& sh, const float* dy, const float* w, float* dx);
// dw (K, C, R, S) = Σ dy ⋆ x. (No bias gradient: ours sum in double, oneDNN's diff_bias in
// float32; note [fused conv passes through oneDNN] in conv.cpp.)
bool onednn_conv_backward_filter(const OneDnnConvShape& sh, const float* dy, const float* x, float* dw);

}  // namespace newton
