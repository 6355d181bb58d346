// Element-wise arithmetic and ReLU on the CPU (ops/elementwise.h), with the formulas of
// core/scalar_math.h.
#include <cmath>

#include "../ops/elementwise.h"
#include "../scalar_math.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

// y = f(a, b) element-wise
template <typename F>
void binary(Tensor& y, const Tensor& a, const Tensor& b, F f) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = y.data<T>();
    const T* x = a.data<T>();
    const T* z = b.data<T>();
    for_each_index(y.numel(), [&](int64_t i) { o[i] = f(x[i], z[i]); });
  });
}

void add(Backend&, Tensor& y, const Tensor& a, const Tensor& b) {
  binary(y, a, b, [](auto u, auto v) { return u + v; });
}
void sub(Backend&, Tensor& y, const Tensor& a, const Tensor& b) {
  binary(y, a, b, [](auto u, auto v) { return u - v; });
}
void mul(Backend&, Tensor& y, const Tensor& a, const Tensor& b) {
  binary(y, a, b, [](auto u, auto v) { return u * v; });
}

void scale(Backend&, Tensor& y, const Tensor& x, double alpha) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = y.data<T>();
    const T* in = x.data<T>();
    const T a = static_cast<T>(alpha);
    for_each_index(y.numel(), [&](int64_t i) { o[i] = a * in[i]; });
  });
}

void axpy(Backend&, Tensor& y, double alpha, const Tensor& x) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T* in = x.data<T>();
    const T a = static_cast<T>(alpha);
    for_each_index(y.numel(), [&](int64_t i) { out[i] += a * in[i]; });
  });
}

// y = f(x) element-wise
template <typename F>
void unary(Tensor& y, const Tensor& x, F f) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = y.data<T>();
    const T* in = x.data<T>();
    for_each_index(y.numel(), [&](int64_t i) { o[i] = f(in[i]); });
  });
}

void relu(Backend&, Tensor& y, const Tensor& x) {
  unary(y, x, [](auto v) { return math::relu(v); });
}
void relu_mask(Backend&, Tensor& y, const Tensor& x) {
  unary(y, x, [](auto v) { return math::relu_mask(v); });
}

void relu_backward(Backend&, Tensor& dx, const Tensor& dy, const Tensor& x) {
  binary(dx, dy, x, [](auto g, auto v) { return math::relu_backward(g, v); });
}

void tanh_forward(Backend&, Tensor& y, const Tensor& x) {
  unary(y, x, [](auto v) {
    using T = decltype(v);
    return static_cast<T>(std::tanh(static_cast<double>(v)));
  });
}

// dx = dy·(1 − y·y), each operation rounded (scalar_math.h)
void tanh_backward(Backend&, Tensor& dx, const Tensor& dy, const Tensor& y) {
  binary(dx, dy, y, [](auto g, auto v) { return math::tanh_backward(g, v); });
}

void rsqrt(Backend&, Tensor& y, const Tensor& x, double eps) {
  unary(y, x, [eps](auto v) {
    using T = decltype(v);
    return static_cast<T>(1.0 / std::sqrt(static_cast<double>(v) + eps));
  });
}

}  // namespace

void register_elementwise_kernels(KernelTable& table) {
  table.add<ops::Add>(kFloatingTypes, add);
  table.add<ops::Sub>(kFloatingTypes, sub);
  table.add<ops::Mul>(kFloatingTypes, mul);
  table.add<ops::Scale>(kFloatingTypes, scale);
  table.add<ops::Axpy>(kFloatingTypes, axpy);
  table.add<ops::Relu>(kFloatingTypes, relu);
  table.add<ops::ReluMask>(kFloatingTypes, relu_mask);
  table.add<ops::ReluBackward>(kFloatingTypes, relu_backward);
  table.add<ops::Tanh>(kFloatingTypes, tanh_forward);
  table.add<ops::TanhBackward>(kFloatingTypes, tanh_backward);
  table.add<ops::Rsqrt>(kFloatingTypes, rsqrt);
}

}  // namespace newton
