// Host linear algebra on Float64Arrays (core/lapack.h): lapackAvailable() and
// symmetricEigen(a, n, { vectors }). Not tensor ops: they run on the host for every device.
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "convert.h"
#include "core/error.h"
#include "core/lapack.h"
#include "errors.h"
#include "exports.h"

namespace newton {
namespace napi {

namespace {

using Info = Napi::CallbackInfo;

Napi::Value LapackAvailable(const Info& info) {
  return guard(info, "lapackAvailable", [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), lapack_available()); });
}

// symmetricEigen(a: Float64Array, n, { vectors = false }) -> { values, vectors? }: note
// [symmetric eigen] in core/lapack.h. Synchronous on the JS thread, by design: n is at most a
// few thousand here (a dense Hessian of a small model): n = 2000 takes about 0.6 s without and
// 1.2 s with eigenvectors on one core.
// The results are new Float64Arrays (of the addon's realm); `a` is only read.
Napi::Value SymmetricEigen(const Info& info) {
  static constexpr const char* op = "symmetricEigen";
  return guard(info, op, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const Napi::Value av = info[0];
    if (!av.IsTypedArray()) fail<ArgumentTypeError>(op, ": a must be a Float64Array, got ", describe(av));
    Napi::TypedArray ta = av.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_float64_array) {
      fail<ArgumentTypeError>(op, ": a must be a Float64Array, got ", typed_array_name(ta.TypedArrayType()));
    }
    const std::size_t length = ta.ElementLength();
    const uint64_t n = uint_arg(info[1], op, "n", "n");
    const Napi::Object options = options_arg(info[2], op, false);
    const bool vectors = optional_bool_arg(options.Get("vectors"), op, "options.vectors", false);
    // n·n == length, without overflowing for any safe integer n.
    if (n == 0 ? length != 0 : (length % n != 0 || length / n != n)) {
      const std::string nn = n <= UINT32_MAX ? std::to_string(n * n) : std::string("at least 2^64");
      fail<ShapeError>(op, ": a has ", length, " elements but an n×n matrix with n = ", n, " has ", nn,
                       " (a must hold the matrix row by row)");
    }
    check_symmetric_eigen(static_cast<std::size_t>(n), vectors);  // LAPACK present, n in range: before allocating

    Napi::Float64Array values = Napi::Float64Array::New(env, static_cast<std::size_t>(n));
    Napi::Float64Array vecs;
    if (vectors) vecs = Napi::Float64Array::New(env, length);
    // Read after the allocations above: `a` is held by info[0], and its backing store never moves.
    const double* a = length == 0 ? nullptr : Napi::Float64Array(env, av).Data();
    symmetric_eigen(a, static_cast<std::size_t>(n), vectors, values.Data(), vectors ? vecs.Data() : nullptr);

    Napi::Object result = Napi::Object::New(env);
    result.Set("values", values);
    if (vectors) result.Set("vectors", vecs);
    return result;
  });
}

}  // namespace

void register_linalg(Napi::Env env, Napi::Object exports) {
  exports.Set("lapackAvailable", Napi::Function::New(env, LapackAvailable, "lapackAvailable"));
  exports.Set("symmetricEigen", Napi::Function::New(env, SymmetricEigen, "symmetricEigen"));
}

}  // namespace napi
}  // namespace newton
