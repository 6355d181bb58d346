// JS values -> plain C++ values. Note [checks in one layer]: this layer checks what only it
// can see — the JS type of a value, and whether a number can be the C++ value asked for (an
// integer where an int64 is needed) — and nothing else: shapes, dtypes, devices and the
// domains of attributes are checked once, for every backend, by the op declarations
// (native/core/op.h). Errors are newton exceptions, converted by guard() (errors.h).
//
// Naming: a TypeError names an option as "options.stride"; a RangeError about its value
// names the attribute alone ("conv2d: stride must be a positive integer, got 1.5").
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace newton {
namespace napi {

// typeof value, but "null" for null and "array" for arrays.
std::string describe(const Napi::Value& value);
// The JS class name of a typed array type ("Float64Array", ...).
const char* typed_array_name(napi_typedarray_type type);
// The value as JS String() prints it, for numbers (NaN, Infinity, 1.5, -0 -> "0").
std::string js_number_string(const Napi::Value& value);

// A NativeTensor (TypeError "<op>: <arg> must be a Tensor, got <what>"; Error when disposed).
Tensor tensor_arg(const Napi::Value& value, const char* op, const char* arg);
// null / undefined -> nullopt, else tensor_arg.
std::optional<Tensor> optional_tensor_arg(const Napi::Value& value, const char* op, const char* arg);

// An array of non-negative safe integers whose product is a safe integer.
Shape shape_arg(const Napi::Value& value, const char* op, const char* arg);

// 'float32' | 'float64' | 'int32'. `type_name` is used in TypeErrors ("options.dtype"),
// `value_name` in RangeErrors ("dtype"). undefined -> `fallback` when given.
DType dtype_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                std::optional<DType> fallback = std::nullopt);

// 'cpu', 'cuda' or 'cuda:N' (undefined -> cpu). Whether the device exists is the core's
// question (registry.h), asked when something is allocated on it.
Device device_arg(const Napi::Value& value, const char* op, const char* type_name);
// Throws Error "<op>: device cuda:0 is not available: <reason>" unless the device is usable
// (for the runtime functions that look at a device without allocating on it).
void require_device(Device device, const char* op);

// A number (TypeError otherwise); its domain (finite, positive, ...) is the core's to check.
double number_arg(const Napi::Value& value, const char* op, const char* type_name);
// Same, undefined -> fallback.
double optional_number_arg(const Napi::Value& value, const char* op, const char* type_name, double fallback);
// Same, undefined -> nullopt.
std::optional<double> maybe_number_arg(const Napi::Value& value, const char* op, const char* type_name);
bool optional_bool_arg(const Napi::Value& value, const char* op, const char* type_name, bool fallback);
// A non-negative safe integer (seeds, offsets).
uint64_t uint_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                  std::optional<uint64_t> fallback = std::nullopt);

// An options object; undefined (or null when not required) -> an empty object.
Napi::Object options_arg(const Napi::Value& value, const char* op, bool required);

// options[key] as `number | [number, number]` of integers (TypeError for other types,
// RangeError "<key> must be <what>, got 1.5" for non-integers; `what` is "a positive
// integer" or "a non-negative integer", the domain the core then checks); nullopt when
// undefined.
std::optional<std::pair<int64_t, int64_t>> int_pair_option(const Napi::Object& options, const char* key, const char* op,
                                                           const char* what);

// The elements of a Float32Array, Float64Array or Int32Array (TypeError for anything else).
struct HostData {
  DType dtype;
  const void* data;
  std::size_t length;
};
HostData typed_array_arg(const Napi::Value& v, const char* op, const char* name);

}  // namespace napi
}  // namespace newton
