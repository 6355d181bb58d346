// Argument parsing for the N-API layer: JS values -> plain C++ values, with the error
// messages of the spec (see /tmp/newton_spec.md, "Error message conventions"). Errors are
// thrown as newton exceptions (ArgumentTypeError -> TypeError, ValueError -> RangeError)
// and converted by guard().
//
// Naming: a TypeError names an option as "options.stride"; a RangeError about its value
// names the attribute alone ("conv2d: stride must be a positive integer, got 0").
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/device.h"
#include "core/dtype.h"
#include "core/op_params.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace newton {
namespace napi {

// typeof value, but "null" for null and "array" for arrays.
std::string describe(const Napi::Value& value);
// The value as JS String() prints it, for numbers (NaN, Infinity, 1.5, -0 -> "0").
std::string js_number_string(const Napi::Value& value);

// A NativeTensor (TypeError "<op>: <arg> must be a Tensor, got <what>"; Error when disposed).
Tensor tensor_arg(const Napi::Value& value, const char* op, const char* arg);
// null / undefined -> nullopt, else tensor_arg.
std::optional<Tensor> optional_tensor_arg(const Napi::Value& value, const char* op, const char* arg);

// An array of non-negative safe integers whose product fits.
Shape shape_arg(const Napi::Value& value, const char* op, const char* arg);

// 'float32' | 'float64' | 'int32'. `type_name` is used in TypeErrors ("options.dtype"),
// `value_name` in RangeErrors ("dtype"). undefined -> `fallback` when given.
DType dtype_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                std::optional<DType> fallback = std::nullopt);

// 'cpu', 'cuda' or 'cuda:N' (undefined -> cpu); the device must be available.
Device device_arg(const Napi::Value& value, const char* op, const char* type_name);
// Throws Error "<op>: device cuda:0 is not available: <reason>" unless the device is usable.
void require_device(Device device, const char* op);

// A finite number (TypeError when not a number, RangeError when NaN / ±Infinity).
double finite_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name);
// Same, undefined -> fallback.
double optional_finite_arg(const Napi::Value& value, const char* op, const char* type_name,
                           const char* value_name, double fallback);
bool optional_bool_arg(const Napi::Value& value, const char* op, const char* type_name, bool fallback);
// A non-negative safe integer (seeds, offsets).
uint64_t uint_arg(const Napi::Value& value, const char* op, const char* type_name, const char* value_name,
                  std::optional<uint64_t> fallback = std::nullopt);

// An options object; undefined (or null when allowed) -> an empty object unless required.
Napi::Object options_arg(const Napi::Value& value, const char* op, bool required);

Conv2dParams conv2d_options(const Napi::Value& options, const char* op);
Pool2dParams pool2d_options(const Napi::Value& options, const char* op);

struct GemmOptions {
  GemmParams params;
  std::optional<Tensor> c;
};
GemmOptions gemm_options(const Napi::Value& options, const char* op);

// Refuses (RangeError "out of memory") a tensor that could not possibly be allocated, before
// trying, and records what is being allocated for an out-of-memory message.
void check_allocation(const char* op, const Shape& shape, DType dtype, Device device);

// The elements of a Float32Array, Float64Array or Int32Array (TypeError for anything else).
struct HostData {
  DType dtype;
  const void* data;
  std::size_t length;
};
HostData typed_array_arg(const Napi::Value& v, const char* op, const char* name);

}  // namespace napi
}  // namespace newton
