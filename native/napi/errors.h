// Mapping of C++ exceptions to JS errors (note [error classes] in core/error.h). Every
// function reachable from JS runs its body through guard(), so that no exception escapes
// into N-API and nothing aborts the process:
//
//   newton::ArgumentTypeError                  -> TypeError
//   newton::ShapeError, ValueError             -> RangeError
//   newton::OutOfMemoryError                   -> OutOfMemoryError (lib/errors.ts, a RangeError)
//   newton::Error (disposed tensors too), std::exception -> Error
//   std::bad_alloc                             -> OutOfMemoryError "<op>: out of memory"
//   Napi::Error (a JS exception already pending, e.g. from a throwing getter) -> rethrown as is
//   anything else                              -> Error
#pragma once

#include <napi.h>

#include <string>
#include <utility>

#include "core/error.h"

namespace newton {
namespace napi {

// Thrown by the N-API layer for a disposed tensor: maps to a plain Error.
class DisposedError : public newton::Error {
 public:
  using newton::Error::Error;
};

// Converts the exception in flight (call from a catch block only) to a JS error.
[[noreturn]] void rethrow_as_js(Napi::Env env, const char* op);

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* op, F&& body) {
  try {
    return body();
  } catch (...) {
    rethrow_as_js(info.Env(), op);
  }
}

}  // namespace napi
}  // namespace newton
