// Exceptions thrown by the core. The N-API layer maps each kind to a JS error class:
// ArgumentTypeError -> TypeError, ShapeError and ValueError -> RangeError, Error -> Error.
// Messages name the op, the argument and the shapes involved (see note [error messages]).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
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

// Builds a message from streamable parts: fail<ShapeError>("conv2d: ", "x ", shape).
template <typename E, typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  throw E(out.str());
}

}  // namespace newton
