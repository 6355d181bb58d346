// One small function per op: parse the arguments (convert.h), call newton::ops, wrap the
// results. The core checks shapes, dtypes and devices again and names the op in its errors.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "convert.h"
#include "core/error.h"
#include "core/ops.h"
#include "errors.h"
#include "exports.h"
#include "tensor_wrap.h"

namespace newton {
namespace napi {

namespace {

using Info = Napi::CallbackInfo;

Napi::Value wrap(const Info& info, Tensor t) { return NativeTensor::Create(info.Env(), std::move(t)); }
Napi::Value number(const Info& info, double d) { return Napi::Number::New(info.Env(), d); }
Napi::Value undefined(const Info& info) { return info.Env().Undefined(); }

#define NEWTON_FN(fn, op_name, ...)                                        \
  Napi::Value fn(const Info& info) {                                       \
    static constexpr const char* op = op_name;                             \
    return guard(info, op, [&]() -> Napi::Value { __VA_ARGS__ });          \
  }

#define T_ARG(i, name) tensor_arg(info[i], op, name)

// A value to fill a tensor of `dtype` with: finite, and an int32 for int32 tensors.
double fill_value(const Napi::Value& v, DType dtype, const char* op, const char* name) {
  const double value = finite_arg(v, op, name, name);
  if (dtype == DType::I32 && (value != std::floor(value) || value < -2147483648.0 || value > 2147483647.0)) {
    fail<ValueError>(op, ": ", name, " must be an int32 integer for an int32 tensor, got ", js_number_string(v));
  }
  return value;
}

template <typename From, typename To>
void convert_into(const From* src, To* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src[i]);
}

template <typename From>
void convert_to_int32(const From* src, int32_t* dst, std::size_t n, const char* op) {
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(src[i]);
    if (!(d == std::floor(d) && d >= -2147483648.0 && d <= 2147483647.0)) {
      fail<ValueError>(op, ": int32 data must hold integers in [-2147483648, 2147483647], got ", d, " at index ", i);
    }
    dst[i] = static_cast<int32_t>(d);
  }
}

// --- creation and data movement -------------------------------------------------------

// fromTypedArray(data, shape?, dtype?, device?)
NEWTON_FN(FromTypedArray, "Tensor.from", {
  const HostData host = typed_array_arg(info[0], op, "data");
  Shape shape = (info[1].IsUndefined() || info[1].IsNull())
                    ? Shape{static_cast<int64_t>(host.length)}
                    : shape_arg(info[1], op, "options.shape");
  const DType dtype = dtype_arg(info[2], op, "options.dtype", "dtype", host.dtype);
  const Device device = device_arg(info[3], op, "options.device");
  if (static_cast<std::size_t>(shape_numel(shape)) != host.length) {
    fail<ShapeError>(op, ": data has ", host.length, " elements but shape ", fmt(shape), " has ", shape_numel(shape));
  }
  check_allocation(op, shape, dtype, device);
  static const double dummy = 0;
  const void* src = host.data ? host.data : &dummy;
  if (dtype == host.dtype) return wrap(info, ops::from_host(src, shape, dtype, device));
  const std::size_t n = host.length;
  std::vector<unsigned char> converted(std::max<std::size_t>(n, 1) * dtype_size(dtype));
  void* dst = converted.data();
  switch (dtype) {
    case DType::F32:
      if (host.dtype == DType::F64) convert_into(static_cast<const double*>(src), static_cast<float*>(dst), n);
      else convert_into(static_cast<const int32_t*>(src), static_cast<float*>(dst), n);
      break;
    case DType::F64:
      if (host.dtype == DType::F32) convert_into(static_cast<const float*>(src), static_cast<double*>(dst), n);
      else convert_into(static_cast<const int32_t*>(src), static_cast<double*>(dst), n);
      break;
    case DType::I32:
      if (host.dtype == DType::F32) convert_to_int32(static_cast<const float*>(src), static_cast<int32_t*>(dst), n, op);
      else convert_to_int32(static_cast<const double*>(src), static_cast<int32_t*>(dst), n, op);
      break;
  }
  return wrap(info, ops::from_host(dst, shape, dtype, device));
})

// empty(shape, dtype?, device?): uninitialised memory.
NEWTON_FN(Empty, "Tensor.empty", {
  const Shape shape = shape_arg(info[0], op, "shape");
  const DType dtype = dtype_arg(info[1], op, "options.dtype", "dtype", DType::F32);
  const Device device = device_arg(info[2], op, "options.device");
  check_allocation(op, shape, dtype, device);
  return wrap(info, ops::empty(shape, dtype, device));
})

// zeros(shape, dtype?, device?)
NEWTON_FN(Zeros, "Tensor.zeros", {
  const Shape shape = shape_arg(info[0], op, "shape");
  const DType dtype = dtype_arg(info[1], op, "options.dtype", "dtype", DType::F32);
  const Device device = device_arg(info[2], op, "options.device");
  check_allocation(op, shape, dtype, device);
  Tensor t = ops::empty(shape, dtype, device);
  ops::fill(t, 0.0);
  return wrap(info, std::move(t));
})

// full(shape, value, dtype?, device?)
NEWTON_FN(Full, "Tensor.full", {
  const Shape shape = shape_arg(info[0], op, "shape");
  const DType dtype = dtype_arg(info[2], op, "options.dtype", "dtype", DType::F32);
  const double value = fill_value(info[1], dtype, op, "value");
  const Device device = device_arg(info[3], op, "options.device");
  check_allocation(op, shape, dtype, device);
  Tensor t = ops::empty(shape, dtype, device);
  ops::fill(t, value);
  return wrap(info, std::move(t));
})

// toTypedArray(t): a fresh Float32Array / Float64Array / Int32Array holding a copy.
NEWTON_FN(ToTypedArray, "Tensor.toArray", {
  const Tensor t = T_ARG(0, "tensor");
  const std::size_t n = static_cast<std::size_t>(t.numel());
  Napi::Env env = info.Env();
  switch (t.dtype()) {
    case DType::F32: {
      auto a = Napi::Float32Array::New(env, n);
      if (n) ops::to_host(t, a.Data());
      return a;
    }
    case DType::F64: {
      auto a = Napi::Float64Array::New(env, n);
      if (n) ops::to_host(t, a.Data());
      return a;
    }
    case DType::I32: {
      auto a = Napi::Int32Array::New(env, n);
      if (n) ops::to_host(t, a.Data());
      return a;
    }
  }
  return undefined(info);
})

// readInto(t, out): copies t into `out`, a typed array of t's dtype and t.size elements
// (lets the JS side allocate the array in its own realm).
NEWTON_FN(ReadInto, "Tensor.toArray", {
  const Tensor t = T_ARG(0, "tensor");
  const HostData out = typed_array_arg(info[1], op, "out");
  if (out.dtype != t.dtype()) {
    fail<ShapeError>(op, ": out has dtype ", dtype_name(out.dtype), " but tensor has ", dtype_name(t.dtype()));
  }
  if (out.length != static_cast<std::size_t>(t.numel())) {
    fail<ShapeError>(op, ": out has ", out.length, " elements but tensor has shape ", fmt(t.shape()));
  }
  if (out.length) ops::to_host(t, const_cast<void*>(out.data));
  return undefined(info);
})

// item(t): the only element of a size-1 tensor.
NEWTON_FN(Item, "Tensor.item", {
  const Tensor t = T_ARG(0, "tensor");
  if (t.numel() != 1) {
    fail<ShapeError>(op, ": tensor must have exactly one element, got shape ", fmt(t.shape()));
  }
  switch (t.dtype()) {
    case DType::F32: { float v = 0; ops::to_host(t, &v); return number(info, v); }
    case DType::F64: { double v = 0; ops::to_host(t, &v); return number(info, v); }
    case DType::I32: { int32_t v = 0; ops::to_host(t, &v); return number(info, v); }
  }
  return undefined(info);
})

NEWTON_FN(Reshape, "Tensor.reshape", {
  const Tensor t = T_ARG(0, "tensor");
  const Shape shape = shape_arg(info[1], op, "shape");
  return wrap(info, t.reshape(shape));
})

// view(t, offset, shape): elements [offset, offset + numel(shape)) of t's memory, shared.
NEWTON_FN(View, "Tensor.view", {
  const Tensor t = T_ARG(0, "tensor");
  const uint64_t offset = uint_arg(info[1], op, "offset", "offset");
  const Shape shape = shape_arg(info[2], op, "shape");
  return wrap(info, t.view(static_cast<int64_t>(offset), shape));
})

NEWTON_FN(Clone, "Tensor.clone", {
  const Tensor t = T_ARG(0, "tensor");
  check_allocation(op, t.shape(), t.dtype(), t.device());
  return wrap(info, ops::clone(t));
})

NEWTON_FN(Fill, "fill", {
  Tensor t = T_ARG(0, "t");
  const double value = fill_value(info[1], t.dtype(), op, "value");
  ops::fill(t, value);
  return undefined(info);
})

NEWTON_FN(Copy, "copy", {
  Tensor dst = T_ARG(0, "dst");
  const Tensor src = T_ARG(1, "src");
  ops::copy(dst, src);
  return undefined(info);
})

NEWTON_FN(Cast, "cast", {
  const Tensor x = T_ARG(0, "x");
  const DType dtype = dtype_arg(info[1], op, "dtype", "dtype");
  check_allocation(op, x.shape(), dtype, x.device());
  return wrap(info, ops::cast(x, dtype));
})

// --- element-wise and reductions ---------------------------------------------------------

NEWTON_FN(Add, "add", {
  const Tensor a = T_ARG(0, "a");  // arguments in order: C++ leaves call-argument order unspecified
  const Tensor b = T_ARG(1, "b");
  return wrap(info, ops::add(a, b));
})
NEWTON_FN(Sub, "sub", {
  const Tensor a = T_ARG(0, "a");  // arguments in order: C++ leaves call-argument order unspecified
  const Tensor b = T_ARG(1, "b");
  return wrap(info, ops::sub(a, b));
})
NEWTON_FN(Mul, "mul", {
  const Tensor a = T_ARG(0, "a");  // arguments in order: C++ leaves call-argument order unspecified
  const Tensor b = T_ARG(1, "b");
  return wrap(info, ops::mul(a, b));
})
NEWTON_FN(Scale, "scale", {
  const Tensor x = T_ARG(0, "x");
  return wrap(info, ops::scale(x, finite_arg(info[1], op, "alpha", "alpha")));
})
NEWTON_FN(Axpy, "axpy", {
  Tensor y = T_ARG(0, "y");
  const double alpha = finite_arg(info[1], op, "alpha", "alpha");
  const Tensor x = T_ARG(2, "x");
  ops::axpy(y, alpha, x);
  return undefined(info);
})
NEWTON_FN(Relu, "relu", { return wrap(info, ops::relu(T_ARG(0, "x"))); })
NEWTON_FN(ReluMask, "reluMask", { return wrap(info, ops::relu_mask(T_ARG(0, "x"))); })
NEWTON_FN(ReluBackward, "reluBackward", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor x = T_ARG(1, "x");
  return wrap(info, ops::relu_backward(dy, x));
})
NEWTON_FN(Sum, "sum", { return number(info, ops::sum(T_ARG(0, "x"))); })
NEWTON_FN(Dot, "dot", {
  const Tensor a = T_ARG(0, "a");
  const Tensor b = T_ARG(1, "b");
  return number(info, ops::dot(a, b));
})
NEWTON_FN(SquaredNorm, "squaredNorm", { return number(info, ops::squared_norm(T_ARG(0, "x"))); })
NEWTON_FN(CgUpdate, "cgUpdate", {
  Tensor x = T_ARG(0, "x");  // arguments in order: C++ leaves call-argument order unspecified
  Tensor r = T_ARG(1, "r");
  const Tensor p = T_ARG(2, "p");
  const Tensor q = T_ARG(3, "q");
  const double alpha = finite_arg(info[4], op, "alpha", "alpha");
  return number(info, ops::cg_update(x, r, p, q, alpha));
})

// --- linear algebra ------------------------------------------------------------------------

// Refuses a 2-D (rows, cols) result that cannot be allocated, before the core tries.
void check_matrix(const char* op, int64_t rows, int64_t cols, const Tensor& like) {
  check_allocation(op, Shape{rows, cols}, like.dtype(), like.device());
}

Napi::Value gemm_impl(const Info& info, const char* op, bool with_options) {
  const Tensor a = tensor_arg(info[0], op, "a");
  const Tensor b = tensor_arg(info[1], op, "b");
  GemmOptions g = with_options ? gemm_options(info[2], op) : GemmOptions{};
  if (a.ndim() == 2 && b.ndim() == 2) {
    check_matrix(op, a.dim(g.params.trans_a ? 1 : 0), b.dim(g.params.trans_b ? 0 : 1), a);
  }
  return wrap(info, ops::gemm(a, b, g.params, g.c ? &*g.c : nullptr));
}
Napi::Value Gemm(const Info& info) {
  return guard(info, "gemm", [&] { return gemm_impl(info, "gemm", true); });
}
Napi::Value Matmul(const Info& info) {
  return guard(info, "matmul", [&] { return gemm_impl(info, "matmul", false); });
}

NEWTON_FN(BiasAdd, "biasAdd", {
  const Tensor y = T_ARG(0, "y");
  const Tensor b = T_ARG(1, "b");
  return wrap(info, ops::bias_add(y, b));
})
NEWTON_FN(BiasGrad, "biasGrad", { return wrap(info, ops::bias_grad(T_ARG(0, "dy"))); })

NEWTON_FN(Linear, "linear", {
  const Tensor x = T_ARG(0, "x");
  const Tensor w = T_ARG(1, "w");
  const std::optional<Tensor> b = optional_tensor_arg(info[2], op, "b");
  if (x.ndim() == 2 && w.ndim() == 2) check_matrix(op, x.dim(0), w.dim(0), x);
  return wrap(info, ops::linear_forward(x, w, b ? &*b : nullptr));
})

NEWTON_FN(LinearBackward, "linearBackward", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor x = T_ARG(1, "x");
  const Tensor w = T_ARG(2, "w");
  Napi::Object options = options_arg(info[3], op, false);
  const bool bias = optional_bool_arg(options.Get("bias"), op, "options.bias", true);
  ops::LinearGrads g = ops::linear_backward(dy, x, w, bias);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("dx", wrap(info, std::move(g.dx)));
  result.Set("dw", wrap(info, std::move(g.dw)));
  result.Set("db", g.db.defined() ? wrap(info, std::move(g.db)) : info.Env().Null());
  return result;
})

// --- convolution ---------------------------------------------------------------------------

NEWTON_FN(Conv2d, "conv2d", {
  const Tensor x = T_ARG(0, "x");
  const Tensor w = T_ARG(1, "w");
  const std::optional<Tensor> b = optional_tensor_arg(info[2], op, "b");
  const Conv2dParams p = conv2d_options(info[3], op);
  check_allocation(op, ops::conv2d_output_shape(op, x.shape(), w.shape(), p), x.dtype(), x.device());
  return wrap(info, ops::conv2d_forward(x, w, b ? &*b : nullptr, p));
})

NEWTON_FN(Conv2dBackwardData, "conv2dBackwardData", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor w = T_ARG(1, "w");
  const Shape x_shape = shape_arg(info[2], op, "xShape");
  const Conv2dParams p = conv2d_options(info[3], op);
  check_allocation(op, x_shape, dy.dtype(), dy.device());
  return wrap(info, ops::conv2d_backward_data(dy, w, x_shape, p));
})

NEWTON_FN(Conv2dBackwardFilter, "conv2dBackwardFilter", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor x = T_ARG(1, "x");
  const Shape w_shape = shape_arg(info[2], op, "wShape");
  const Conv2dParams p = conv2d_options(info[3], op);
  check_allocation(op, w_shape, dy.dtype(), dy.device());
  return wrap(info, ops::conv2d_backward_filter(dy, x, w_shape, p));
})

NEWTON_FN(Conv2dBackwardBias, "conv2dBackwardBias", { return wrap(info, ops::bias_grad(T_ARG(0, "dy"))); })

// --- pooling ---------------------------------------------------------------------------------

NEWTON_FN(MaxPool2d, "maxPool2d", {
  const Tensor x = T_ARG(0, "x");
  const Pool2dParams p = pool2d_options(info[1], op);
  check_allocation(op, ops::pool2d_output_shape(op, x.shape(), p), x.dtype(), x.device());
  ops::MaxPoolResult r = ops::max_pool2d_forward(x, p);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("y", wrap(info, std::move(r.y)));
  result.Set("argmax", wrap(info, std::move(r.argmax)));
  return result;
})

NEWTON_FN(MaxPool2dBackward, "maxPool2dBackward", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor argmax = T_ARG(1, "argmax");
  const Shape x_shape = shape_arg(info[2], op, "xShape");
  const Pool2dParams p = pool2d_options(info[3], op);
  check_allocation(op, x_shape, dy.dtype(), dy.device());
  return wrap(info, ops::max_pool2d_backward(dy, argmax, x_shape, p));
})

NEWTON_FN(MaxPool2dReluBackward, "maxPool2dReluBackward", {
  const Tensor dy = T_ARG(0, "dy");
  const Tensor argmax = T_ARG(1, "argmax");
  const Tensor relu_input = T_ARG(2, "reluInput");
  const Pool2dParams p = pool2d_options(info[3], op);
  return wrap(info, ops::max_pool2d_relu_backward(dy, argmax, relu_input, p));
})

NEWTON_FN(MaxPool2dJvp, "maxPool2dJvp", {
  const Tensor rx = T_ARG(0, "rx");
  const Tensor argmax = T_ARG(1, "argmax");
  const Pool2dParams p = pool2d_options(info[2], op);
  check_allocation(op, ops::pool2d_output_shape(op, rx.shape(), p), rx.dtype(), rx.device());
  return wrap(info, ops::max_pool2d_jvp(rx, argmax, p));
})

NEWTON_FN(AvgPool2d, "avgPool2d", {
  const Tensor x = T_ARG(0, "x");
  const Pool2dParams p = pool2d_options(info[1], op);
  check_allocation(op, ops::pool2d_output_shape(op, x.shape(), p), x.dtype(), x.device());
  return wrap(info, ops::avg_pool2d_forward(x, p));
})

NEWTON_FN(AvgPool2dBackward, "avgPool2dBackward", {
  const Tensor dy = T_ARG(0, "dy");
  const Shape x_shape = shape_arg(info[1], op, "xShape");
  const Pool2dParams p = pool2d_options(info[2], op);
  check_allocation(op, x_shape, dy.dtype(), dy.device());
  return wrap(info, ops::avg_pool2d_backward(dy, x_shape, p));
})

// --- losses ------------------------------------------------------------------------------------

NEWTON_FN(SquaredLoss, "squaredLoss", {
  const Tensor z = T_ARG(0, "z");
  const Tensor y = T_ARG(1, "y");
  return number(info, ops::squared_loss(z, y));
})
NEWTON_FN(SquaredLossGradient, "squaredLossGradient", {
  const Tensor z = T_ARG(0, "z");
  const Tensor y = T_ARG(1, "y");
  return wrap(info, ops::squared_loss_grad(z, y));
})
NEWTON_FN(SquaredLossHessianProduct, "squaredLossHessianProduct", {
  const Tensor z = T_ARG(0, "z");
  const Tensor u = T_ARG(1, "u");
  return wrap(info, ops::squared_loss_hvp(z, u));
})
NEWTON_FN(Softmax, "softmax", { return wrap(info, ops::softmax(T_ARG(0, "z"))); })
NEWTON_FN(SoftmaxCrossEntropy, "softmaxCrossEntropy", {
  const Tensor z = T_ARG(0, "z");
  const Tensor y = T_ARG(1, "y");
  return number(info, ops::softmax_cross_entropy(z, y));
})
NEWTON_FN(SoftmaxCrossEntropyGradient, "softmaxCrossEntropyGradient", {
  const Tensor z = T_ARG(0, "z");
  const Tensor y = T_ARG(1, "y");
  return wrap(info, ops::softmax_cross_entropy_grad(z, y));
})
NEWTON_FN(SoftmaxCrossEntropyHessianProduct, "softmaxCrossEntropyHessianProduct", {
  const Tensor z = T_ARG(0, "z");
  const Tensor u = T_ARG(1, "u");
  return wrap(info, ops::softmax_cross_entropy_hvp(z, u));
})

// --- random numbers ---------------------------------------------------------------------------

struct RandomArgs {
  Shape shape;
  DType dtype;
  Device device;
  uint64_t seed, offset;
  Napi::Object options;
};

RandomArgs random_args(const Info& info, const char* op) {
  RandomArgs r;
  r.shape = shape_arg(info[0], op, "shape");
  r.options = options_arg(info[1], op, true);
  r.dtype = dtype_arg(r.options.Get("dtype"), op, "options.dtype", "dtype", DType::F32);
  r.device = device_arg(r.options.Get("device"), op, "options.device");
  r.seed = uint_arg(r.options.Get("seed"), op, "options.seed", "seed");
  r.offset = uint_arg(r.options.Get("offset"), op, "options.offset", "offset", uint64_t{0});
  return r;
}

NEWTON_FN(RandomUniform, "randomUniform", {
  RandomArgs r = random_args(info, op);
  const double low = optional_finite_arg(r.options.Get("low"), op, "options.low", "low", 0.0);
  const double high = optional_finite_arg(r.options.Get("high"), op, "options.high", "high", 1.0);
  check_allocation(op, r.shape, r.dtype, r.device);
  Tensor t = ops::empty(r.shape, r.dtype, r.device);
  ops::random_uniform(t, r.seed, r.offset, low, high);
  return wrap(info, std::move(t));
})

NEWTON_FN(RandomNormal, "randomNormal", {
  RandomArgs r = random_args(info, op);
  const double mean = optional_finite_arg(r.options.Get("mean"), op, "options.mean", "mean", 0.0);
  const double stddev = optional_finite_arg(r.options.Get("std"), op, "options.std", "std", 1.0);
  check_allocation(op, r.shape, r.dtype, r.device);
  Tensor t = ops::empty(r.shape, r.dtype, r.device);
  ops::random_normal(t, r.seed, r.offset, mean, stddev);
  return wrap(info, std::move(t));
})

#undef T_ARG
#undef NEWTON_FN

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Info&);
  };
  static const Entry entries[] = {
      {"fromTypedArray", FromTypedArray},
      {"empty", Empty},
      {"zeros", Zeros},
      {"full", Full},
      {"toTypedArray", ToTypedArray},
      {"readInto", ReadInto},
      {"item", Item},
      {"reshape", Reshape},
      {"view", View},
      {"clone", Clone},
      {"fill", Fill},
      {"copy", Copy},
      {"cast", Cast},
      {"add", Add},
      {"sub", Sub},
      {"mul", Mul},
      {"scale", Scale},
      {"axpy", Axpy},
      {"relu", Relu},
      {"reluMask", ReluMask},
      {"reluBackward", ReluBackward},
      {"sum", Sum},
      {"dot", Dot},
      {"squaredNorm", SquaredNorm},
      {"cgUpdate", CgUpdate},
      {"gemm", Gemm},
      {"matmul", Matmul},
      {"biasAdd", BiasAdd},
      {"biasGrad", BiasGrad},
      {"linear", Linear},
      {"linearBackward", LinearBackward},
      {"conv2d", Conv2d},
      {"conv2dBackwardData", Conv2dBackwardData},
      {"conv2dBackwardFilter", Conv2dBackwardFilter},
      {"conv2dBackwardBias", Conv2dBackwardBias},
      {"maxPool2d", MaxPool2d},
      {"maxPool2dBackward", MaxPool2dBackward},
      {"maxPool2dReluBackward", MaxPool2dReluBackward},
      {"maxPool2dJvp", MaxPool2dJvp},
      {"avgPool2d", AvgPool2d},
      {"avgPool2dBackward", AvgPool2dBackward},
      {"squaredLoss", SquaredLoss},
      {"squaredLossGradient", SquaredLossGradient},
      {"squaredLossHessianProduct", SquaredLossHessianProduct},
      {"softmax", Softmax},
      {"softmaxCrossEntropy", SoftmaxCrossEntropy},
      {"softmaxCrossEntropyGradient", SoftmaxCrossEntropyGradient},
      {"softmaxCrossEntropyHessianProduct", SoftmaxCrossEntropyHessianProduct},
      {"randomUniform", RandomUniform},
      {"randomNormal", RandomNormal},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace napi
}  // namespace newton
