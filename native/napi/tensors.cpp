// The tensor functions that are not ops: creation from JS data, reads back to JS, views.
// Argument conversion only (convert.h); the core checks and allocates (core/ops.h).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

// fromTypedArray(data, shape?, dtype?, device?): a copy of data, converted to dtype.
Napi::Value FromTypedArray(const Info& info) {
  static constexpr const char* op = "Tensor.from";
  return guard(info, op, [&]() -> Napi::Value {
    const HostData host = typed_array_arg(info[0], op, "data");
    const Shape shape = (info[1].IsUndefined() || info[1].IsNull()) ? Shape{static_cast<int64_t>(host.length)}
                                                                     : shape_arg(info[1], op, "options.shape");
    const DType dtype = dtype_arg(info[2], op, "options.dtype", "dtype", host.dtype);
    const Device device = device_arg(info[3], op, "options.device");
    if (static_cast<std::size_t>(shape_numel(shape)) != host.length) {
      fail<ShapeError>(op, ": data has ", host.length, " elements but shape ", fmt(shape), " has ", shape_numel(shape));
    }
    static const double dummy = 0;
    const void* src = host.data ? host.data : &dummy;
    if (dtype == host.dtype) return wrap(info, ops::from_host(op, src, shape, dtype, device));
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
    return wrap(info, ops::from_host(op, dst, shape, dtype, device));
  });
}

// empty(shape, dtype?, device?): uninitialised memory.
Napi::Value Empty(const Info& info) {
  static constexpr const char* op = "Tensor.empty";
  return guard(info, op, [&]() -> Napi::Value {
    const Shape shape = shape_arg(info[0], op, "shape");
    const DType dtype = dtype_arg(info[1], op, "options.dtype", "dtype", DType::F32);
    const Device device = device_arg(info[2], op, "options.device");
    return wrap(info, ops::empty(op, shape, dtype, device));
  });
}

// zeros(shape, dtype?, device?)
Napi::Value Zeros(const Info& info) {
  static constexpr const char* op = "Tensor.zeros";
  return guard(info, op, [&]() -> Napi::Value {
    const Shape shape = shape_arg(info[0], op, "shape");
    const DType dtype = dtype_arg(info[1], op, "options.dtype", "dtype", DType::F32);
    const Device device = device_arg(info[2], op, "options.device");
    return wrap(info, ops::full(op, shape, 0.0, dtype, device));
  });
}

// full(shape, value, dtype?, device?)
Napi::Value Full(const Info& info) {
  static constexpr const char* op = "Tensor.full";
  return guard(info, op, [&]() -> Napi::Value {
    const Shape shape = shape_arg(info[0], op, "shape");
    const double value = number_arg(info[1], op, "value");
    const DType dtype = dtype_arg(info[2], op, "options.dtype", "dtype", DType::F32);
    const Device device = device_arg(info[3], op, "options.device");
    return wrap(info, ops::full(op, shape, value, dtype, device));
  });
}

// toTypedArray(t): a fresh Float32Array / Float64Array / Int32Array holding a copy.
Napi::Value ToTypedArray(const Info& info) {
  static constexpr const char* op = "Tensor.toArray";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
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
    return env.Undefined();
  });
}

// readInto(t, out): copies t into `out`, a typed array of t's dtype and t.size elements
// (lets the JS side allocate the array in its own realm).
Napi::Value ReadInto(const Info& info) {
  static constexpr const char* op = "Tensor.toArray";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    const HostData out = typed_array_arg(info[1], op, "out");
    if (out.dtype != t.dtype()) {
      fail<ShapeError>(op, ": out has dtype ", dtype_name(out.dtype), " but tensor has ", dtype_name(t.dtype()));
    }
    if (out.length != static_cast<std::size_t>(t.numel())) {
      fail<ShapeError>(op, ": out has ", out.length, " elements but tensor has shape ", fmt(t.shape()));
    }
    if (out.length) ops::to_host(t, const_cast<void*>(out.data));
    return info.Env().Undefined();
  });
}

// item(t): the only element of a size-1 tensor.
Napi::Value Item(const Info& info) {
  static constexpr const char* op = "Tensor.item";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    if (t.numel() != 1) fail<ShapeError>(op, ": tensor must have exactly one element, got shape ", fmt(t.shape()));
    double v = 0;
    switch (t.dtype()) {
      case DType::F32: { float f = 0; ops::to_host(t, &f); v = f; break; }
      case DType::F64: ops::to_host(t, &v); break;
      case DType::I32: { int32_t i = 0; ops::to_host(t, &i); v = i; break; }
    }
    return Napi::Number::New(info.Env(), v);
  });
}

Napi::Value Reshape(const Info& info) {
  static constexpr const char* op = "Tensor.reshape";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    const Shape shape = shape_arg(info[1], op, "shape");
    return wrap(info, t.reshape(shape));
  });
}

// view(t, offset, shape): elements [offset, offset + numel(shape)) of t's memory, shared.
Napi::Value View(const Info& info) {
  static constexpr const char* op = "Tensor.view";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    const uint64_t offset = uint_arg(info[1], op, "offset", "offset");
    const Shape shape = shape_arg(info[2], op, "shape");
    return wrap(info, t.view(static_cast<int64_t>(offset), shape));
  });
}

Napi::Value Clone(const Info& info) {
  static constexpr const char* op = "Tensor.clone";
  return guard(info, op, [&]() -> Napi::Value { return wrap(info, ops::clone(op, tensor_arg(info[0], op, "tensor"))); });
}

}  // namespace

void register_tensors(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Info&);
  };
  static const Entry entries[] = {
      {"fromTypedArray", FromTypedArray}, {"empty", Empty},   {"zeros", Zeros},     {"full", Full},
      {"toTypedArray", ToTypedArray},     {"readInto", ReadInto}, {"item", Item}, {"reshape", Reshape},
      {"view", View},                     {"clone", Clone},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace napi
}  // namespace newton
