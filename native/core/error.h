// Exceptions thrown by the core. Note [error classes]: one class per kind of mistake, each
// mapped to one JS error class by the N-API layer (native/napi/errors.h):
//
//   ArgumentTypeError  a JS value of the wrong type (found by the N-API layer)   -> TypeError
//   ShapeError         tensors whose shapes, dtypes or devices do not fit the op -> RangeError
//   ValueError         a number outside its domain (stride 0, NaN alpha, ...)    -> RangeError
//   OutOfMemoryError   an allocation that failed or could never succeed          -> RangeError
//   Error              everything else: a disposed tensor, an unavailable device,
//                      a failed CUDA/cuBLAS/cuDNN call                           -> Error
//
// Messages name the op, the argument and the shapes involved (note [error messages] in op.h).
#pragma once

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace newton {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A value of the wrong kind (for example an index tensor where data was expected).
class ArgumentTypeError : public Error {
 public:
  using Error::Error;
};

// Shapes, dtypes or devices that do not fit together.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A scalar argument outside its domain (negative stride, zero kernel, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

// Memory for a result could not be had: "<op>: out of memory allocating <bytes> bytes for ...".
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// A number as JavaScript's String() writes it ("NaN", "-Infinity", "0.1", "2147483648"), so
// that messages read the same whether the N-API layer or the core finds the mistake.
inline std::string js_number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

namespace detail {
template <typename T>
void put(std::ostringstream& out, T&& part) {
  if constexpr (std::is_floating_point_v<std::decay_t<T>>) {
    out << js_number(static_cast<double>(part));
  } else {
    out << std::forward<T>(part);
  }
}
}  // namespace detail

// Builds a message from streamable parts: fail<ShapeError>("conv2d: ", "x ", shape).
// Floating-point parts are written with js_number.
template <typename E, typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream out;
  (detail::put(out, std::forward<Parts>(parts)), ...);
  throw E(out.str());
}

}  // namespace newton
