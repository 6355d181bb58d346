// Mapping of C++ exceptions to JS errors. Every function reachable from JS runs its body
// through guard(), so that no exception escapes into N-API and nothing aborts the process:
//
//   newton::ArgumentTypeError            -> TypeError
//   newton::ShapeError, newton::ValueError -> RangeError
//   newton::Error, std::exception         -> Error
//   std::bad_alloc                        -> RangeError "<op>: out of memory allocating <what>"
//   Napi::Error (a JS exception already pending, e.g. from a throwing getter) -> rethrown as is
//   anything else                         -> Error
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

// What an allocation in the current call is for ("8 bytes for a float64 tensor of shape (1)");
// set by the creation helpers so that an out-of-memory message can say what failed.
void set_allocation_context(std::string what);

// Converts the exception in flight (call from a catch block only) to a JS error.
[[noreturn]] void rethrow_as_js(Napi::Env env, const char* op);

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* op, F&& body) {
  set_allocation_context("");
  try {
    return body();
  } catch (...) {
    rethrow_as_js(info.Env(), op);
  }
}

}  // namespace napi
}  // namespace newton
