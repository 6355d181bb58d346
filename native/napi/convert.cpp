// JS values -> C++ values (convert.h).
#include "convert.h"

#include <cmath>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/registry.h"
#include "errors.h"
#include "tensor_wrap.h"

namespace newton {
namespace napi {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
constexpr std::size_t kMaxRank = 64;

bool is_safe_integer(double d) { return std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= kMaxSafeInteger; }

std::string format_array_elements(const Napi::Array& a) {
  std::string s = "[";
  const uint32_t n = a.Length();
  for (uint32_t i = 0; i < n && i < 16; ++i) {
    if (i) s += ", ";
    Napi::Value v = a.Get(i);
    s += v.IsNumber() ? js_number_string(v) : describe(v);
  }
  if (n > 16) s += ", ...";
  return s + "]";
}

}  // namespace

std::optional<std::pair<int64_t, int64_t>> int_pair_option(const Napi::Object& options, const char* key, const char* op,
                                                           const char* what) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return std::nullopt;
  double h = 0, w = 0;
  if (v.IsNumber()) {
    h = w = v.As<Napi::Number>().DoubleValue();
  } else if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() != 2) {
      fail<ArgumentTypeError>(op, ": options.", key, " must be a number or [number, number], got array of length ",
                              a.Length());
    }
    Napi::Value a0 = a.Get(uint32_t{0}), a1 = a.Get(uint32_t{1});
    if (!a0.IsNumber() || !a1.IsNumber()) {
      fail<ArgumentTypeError>(op, ": options.", key, " must be a number or [number, number], got ",
                              format_array_elements(a));
    }
    h = a0.As<Napi::Number>().DoubleValue();
    w = a1.As<Napi::Number>().DoubleValue();
  } else {
    fail<ArgumentTypeError>(op, ": options.", key, " must be a number or [number, number], got ", describe(v));
  }
  for (double d : {h, w}) {
    if (!is_safe_integer(d)) fail<ValueError>(op, ": ", key, " must be ", what, ", got ", js_number(d));
  }
  return std::make_pair(static_cast<int64_t>(h), static_cast<int64_t>(w));
}

std::string describe(const Napi::Value& value) {
  if (value.IsEmpty()) return "undefined";
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_bigint: return "bigint";
    case napi_external: return "object";
    case napi_object: return value.IsArray() ? "array" : "object";
  }
  return "object";
}

std::string js_number_string(const Napi::Value& value) {
  if (!value.IsNumber()) return describe(value);
  const double d = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return value.ToString().Utf8Value();
}

Tensor tensor_arg(const Napi::Value& value, const char* op, const char* arg) {
  NativeTensor* t = NativeTensor::FromValue(value);
  if (!t) fail<ArgumentTypeError>(op, ": ", arg, " must be a Tensor, got ", describe(value));
  return t->tensor(op, arg);
}

std::optional<Tensor> optional_tensor_arg(const Napi::Value& value, const char* op, const char* arg) {
  if (value.IsEmpty() || value.IsUndefined() || value.IsNull()) return std::nullopt;
  return tensor_arg(value, op, arg);
}

Shape shape_arg(const Napi::Value& value, const char* op, const char* arg) {
  if (value.IsEmpty() || !value.IsArray()) {
    fail<ArgumentTypeError>(op, ": ", arg, " must be an array of non-negative integers, got ", describe(value));
  }
  Napi::Array a = value.As<Napi::Array>();
  const uint32_t n = a.Length();
  if (n > kMaxRank) {
    fail<ValueError>(op, ": ", arg, " has ", n, " dimensions; at most ", kMaxRank, " are supported");
  }
  Shape shape;
  shape.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) {
      fail<ArgumentTypeError>(op, ": ", arg, " must be an array of non-negative integers, got ", describe(v),
                              " at index ", i);
    }
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!is_safe_integer(d) || d < 0) {
      fail<ValueError>(op, ": ", arg, " must be an array of non-negative integers, got ", js_number_string(v),
                       " at index ", i);
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  // The element count (ignoring zero extents, so that no partial product can overflow)
  // must be a safe integer.
  double count = 1;
  for (int64_t d : shape) {
    if (d > 0) count *= static_cast<double>(d);
  }
  if (count > kMaxSafeInteger) {
    fail<ValueError>(op, ": ", arg, " ", fmt(shape), " has too many elements");
  }
  return shape;
}

DType dtype_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                std::optional<DType> fallback) {
  if ((value.IsEmpty() || value.IsUndefined()) && fallback) return *fallback;
  if (value.IsEmpty() || !value.IsString()) {
    fail<ArgumentTypeError>(op, ": ", type_name, " must be 'float32', 'float64' or 'int32', got ", describe(value));
  }
  const std::string s = value.As<Napi::String>().Utf8Value();
  if (s == "float32") return DType::F32;
  if (s == "float64") return DType::F64;
  if (s == "int32") return DType::I32;
  fail<ValueError>(op, ": ", value_name, " must be 'float32', 'float64' or 'int32', got '", s, "'");
}

Device device_arg(const Napi::Value& value, const char* op, const char* type_name) {
  if (value.IsEmpty() || value.IsUndefined()) return cpu_device();
  if (!value.IsString()) {
    fail<ArgumentTypeError>(op, ": ", type_name, " must be a string ('cpu', 'cuda' or 'cuda:N'), got ",
                            describe(value));
  }
  const std::string s = value.As<Napi::String>().Utf8Value();
  Device device;
  bool ok = false;
  if (s == "cpu") {
    ok = true;
  } else if (s == "cuda") {
    device = Device{DeviceKind::CUDA, 0};
    ok = true;
  } else if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() <= 8) {
    ok = true;
    int index = 0;
    for (std::size_t i = 5; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') ok = false;
      else index = index * 10 + (s[i] - '0');
    }
    device = Device{DeviceKind::CUDA, index};
  }
  if (!ok) fail<ValueError>(op, ": device must be 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
  return device;
}

void require_device(Device device, const char* op) {
  if (device.kind == DeviceKind::CPU) return;
  const std::string name = device.name();
  std::string reason;
  for (const DeviceInfo& d : list_devices()) {
    if (d.name == name && d.available) return;
    if (d.kind == "cuda" && !d.available && reason.empty()) reason = d.reason;
  }
  if (reason.empty()) fail<Error>(op, ": device ", name, " is not available");
  fail<Error>(op, ": device ", name, " is not available: ", reason);
}

double number_arg(const Napi::Value& value, const char* op, const char* type_name) {
  if (value.IsEmpty() || !value.IsNumber()) {
    fail<ArgumentTypeError>(op, ": ", type_name, " must be a number, got ", describe(value));
  }
  return value.As<Napi::Number>().DoubleValue();
}

double optional_number_arg(const Napi::Value& value, const char* op, const char* type_name, double fallback) {
  if (value.IsEmpty() || value.IsUndefined()) return fallback;
  return number_arg(value, op, type_name);
}

std::optional<double> maybe_number_arg(const Napi::Value& value, const char* op, const char* type_name) {
  if (value.IsEmpty() || value.IsUndefined()) return std::nullopt;
  return number_arg(value, op, type_name);
}

bool optional_bool_arg(const Napi::Value& value, const char* op, const char* type_name, bool fallback) {
  if (value.IsEmpty() || value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) fail<ArgumentTypeError>(op, ": ", type_name, " must be a boolean, got ", describe(value));
  return value.As<Napi::Boolean>().Value();
}

uint64_t uint_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                  std::optional<uint64_t> fallback) {
  if ((value.IsEmpty() || value.IsUndefined()) && fallback) return *fallback;
  if (value.IsEmpty() || !value.IsNumber()) {
    fail<ArgumentTypeError>(op, ": ", type_name, " must be a number, got ", describe(value));
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!is_safe_integer(d) || d < 0) {
    fail<ValueError>(op, ": ", value_name, " must be a non-negative safe integer, got ", js_number_string(value));
  }
  return static_cast<uint64_t>(d);
}

Napi::Object options_arg(const Napi::Value& value, const char* op, bool required) {
  if (!required && (value.IsEmpty() || value.IsUndefined() || value.IsNull())) {
    return Napi::Object::New(value.Env());
  }
  if (value.IsEmpty() || value.Type() != napi_object || value.IsArray()) {
    fail<ArgumentTypeError>(op, ": options must be an object, got ", describe(value));
  }
  return value.As<Napi::Object>();
}

const char* typed_array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
  }
  return "TypedArray";
}

// A Float32Array, Float64Array or Int32Array.
HostData typed_array_arg(const Napi::Value& v, const char* op, const char* name) {
  if (!v.IsTypedArray()) {
    fail<ArgumentTypeError>(op, ": ", name, " must be a Float32Array, Float64Array or Int32Array, got ", describe(v));
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  const napi_typedarray_type type = a.TypedArrayType();
  DType dtype;
  switch (type) {
    case napi_float32_array: dtype = DType::F32; break;
    case napi_float64_array: dtype = DType::F64; break;
    case napi_int32_array: dtype = DType::I32; break;
    default:
      fail<ArgumentTypeError>(op, ": ", name, " must be a Float32Array, Float64Array or Int32Array, got ",
                              typed_array_name(type));
  }
  napi_typedarray_type t;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(v.Env(), v, &t, &length, &data, &buffer, &byte_offset) != napi_ok) {
    fail<Error>(op, ": cannot read ", name);
  }
  return HostData{dtype, data, data ? length : 0};
}


}  // namespace napi
}  // namespace newton
