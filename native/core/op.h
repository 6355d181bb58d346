// The machinery every op declaration (native/core/ops/*.h) is written with.
//
// Note [op declarations]
// ~~~~~~~~~~~~~~~~~~~~~~
// An op is one struct, declared once in the header of its family:
//
//   struct MaxPool2dJvp {
//     static constexpr OpInfo info{"maxPool2dJvp", Pass::Jvp, "maxPool2d", "x", "R{y} = R{x}[argmax]"};
//     static constexpr std::array<const char*, 3> args{"rx", "argmax", "options"};
//     using Kernel = void(Backend&, Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams&);
//     static Tensor run(const Tensor& rx, const Tensor& argmax, const Pool2dParams& p);
//   };
//
// - `info`: the op's JS name (used in every message and nowhere else as a literal), which pass
//   of which op it computes (the derivative tests read it), and one line of documentation;
// - `args`: the names of run()'s arguments, as the JS API and the error messages call them;
// - `Kernel`: what each backend implements (note [kernel tables] in backend.h); an op built
//   from other ops' kernels (a composite) has `Uses` = the ops it launches instead;
// - `run`: the checks of shapes, dtypes, devices and attributes, done here once for every
//   backend (note [error classes] in error.h), the allocation of the outputs, and the launch.
//
// The N-API layer binds every op of the list in ops.h from run()'s signature and `args`
// (native/napi/bind.h), and the TypeScript declarations of the native surface are generated
// from the same (scripts/gen-native-ops.js). Adding an op: README.md, "Adding an op".
//
// Note [error messages]
// ~~~~~~~~~~~~~~~~~~~~~
// Every message starts with the JS name of the op, then names the argument as the JS API
// does: "conv2d: w must have 4 dimensions (K, C, R, S), got shape (3, 3)". The N-API layer
// passes them through unchanged, so tests can match them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "backend.h"
#include "error.h"
#include "op_params.h"
#include "profile.h"
#include "registry.h"
#include "tensor.h"

namespace newton {

// Which pass an op computes, for the derivative tests (test/cases/) and the documentation.
enum class Pass {
  Forward,  // a function of its inputs
  Vjp,      // the gradient (vector-Jacobian product) of `of` with respect to its input `wrt`
  Jvp,      // the R-operator (Jacobian-vector product) of `of` along a tangent of `wrt`
  Fused,    // `of`'s pass fused with a neighbour's (same results as the composition)
  Utility,  // data movement, random numbers, optimizer updates: no derivative
};

struct OpInfo {
  const char* name;
  Pass pass = Pass::Forward;
  const char* of = "";   // Vjp, Jvp, Fused: the op whose pass this is
  const char* wrt = "";  // Vjp, Jvp: the input of `of` it differentiates ("all": every input)
  const char* doc = "";
};

// The ops a composite launches (their kernels must all exist for it to run).
template <typename... Ops>
struct OpList {};

// --- checks (each throws the class of note [error classes]) ---------------------------------

namespace check {

// A defined tensor (an empty C++ handle is a programming error of a C++ caller).
void defined(const char* op, const char* arg, const Tensor& t);
// float32 or float64.
void floating(const char* op, const char* arg, const Tensor& t);
// int32 (index tensors such as max-pool's argmax).
void index(const char* op, const char* arg, const Tensor& t);
// The same dtype as `first`.
void same_dtype(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first);
// On the same device as `first`.
void same_device(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first);
// The same shape as `first`.
void same_shape(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first);
// floating + same dtype + same device as `first`: the usual second operand.
void like(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first);
// `ndim` dimensions; `layout` names them in the message, e.g. "(N, C, H, W)".
void ndim(const char* op, const char* arg, const Shape& shape, std::size_t ndim, const char* layout);
// No zero extent: an empty batch is always a caller's mistake for layers and losses.
void nonempty(const char* op, const char* arg, const Shape& shape);
// Exactly `expected`; `because` says where it comes from ("the output for xShape and w").
void shape_is(const char* op, const char* arg, const Shape& shape, const Shape& expected, const char* because);
// Finite numbers, positive / non-negative integers.
void finite(const char* op, const char* name, double value);
void positive(const char* op, const char* name, int64_t value);
void non_negative(const char* op, const char* name, int64_t value);
// `a` and `b` must not share memory (`what` says which, for the message).
void disjoint(const char* op, const char* what, const Tensor& a, const Tensor& b);

}  // namespace check

// --- outputs and launches ----------------------------------------------------------------

// A new tensor of `shape` and `dtype` on `device` for op `op`. Throws ShapeError when the
// shape cannot be counted, OutOfMemoryError when it cannot fit in memory or the allocation
// fails ("<op>: out of memory allocating 1.50 GiB (1610612736 bytes) for a float32 tensor of
// shape (...) on cpu: only 1.20 GiB available (...)"), Error when the device is not available.
Tensor allocate(const char* op, const Shape& shape, DType dtype, Device device);
// Of `like`'s dtype and device.
inline Tensor allocate_like(const char* op, const Tensor& like, const Shape& shape) {
  return allocate(op, shape, like.dtype(), like.device());
}

namespace detail {
template <typename T, typename = void>
struct is_composite : std::false_type {};
template <typename T>
struct is_composite<T, std::void_t<typename T::Uses>> : std::true_type {};

template <typename... Ops>
bool all_supported(const Backend& b, DType dtype, OpList<Ops...>*);
}  // namespace detail

// Whether backend `b` runs OpT in `dtype`: its kernel is listed (note [kernel tables]), or,
// for a composite, the kernels of everything it uses are.
template <typename OpT>
bool supported(const Backend& b, DType dtype) {
  if constexpr (detail::is_composite<OpT>::value) {
    return detail::all_supported(b, dtype, static_cast<typename OpT::Uses*>(nullptr));
  } else {
    return b.kernels().find<OpT>(dtype) != nullptr;
  }
}

namespace detail {
template <typename... Ops>
bool all_supported(const Backend& b, DType dtype, OpList<Ops...>*) {
  return (supported<Ops>(b, dtype) && ...);
}
}  // namespace detail

// The backend of `on`'s device after checking that it runs OpT in `on`'s dtype; `op` names
// the op the caller runs (a composite names itself, not the op it launches).
template <typename OpT>
Backend& backend_running(const char* op, const Tensor& on) {
  Backend& b = backend_for(on.device());
  if (!supported<OpT>(b, on.dtype())) {
    fail<ShapeError>(op, ": ", dtype_name(on.dtype()), " is not supported on ", on.device().name());
  }
  if (profile::enabled()) profile::set_caller(op);
  return b;
}

namespace detail {
// What the profiler records of a launch's arguments (note [profiler cost] in profile.h):
// the bytes and shapes of its tensors, and its FLOPs when the op defines `flops(args...)`.
template <typename T>
void profile_arg(const T& arg, double& bytes, std::string& shapes) {
  if constexpr (std::is_same_v<std::decay_t<T>, Tensor>) {
    if (!arg.defined()) return;
    bytes += static_cast<double>(arg.nbytes());
    if (!shapes.empty()) shapes += ' ';
    shapes += shape_str(arg.shape());
  }
}
template <typename OpT, typename = void, typename... A>
struct has_flops : std::false_type {};
template <typename OpT, typename... A>
struct has_flops<OpT, std::void_t<decltype(OpT::flops(std::declval<const A&>()...))>, A...> : std::true_type {};
}  // namespace detail

// Runs OpT's kernel for the device and dtype of `on` (checked with backend_running first,
// under the name `op`).
template <typename OpT, typename... A>
decltype(auto) launch(const Tensor& on, A&&... args) {
  Backend& b = backend_for(on.device());
  typename OpT::Kernel* kernel = b.kernels().find<OpT>(on.dtype());
  if (kernel == nullptr) {
    fail<ShapeError>(OpT::info.name, ": ", dtype_name(on.dtype()), " is not supported on ", on.device().name());
  }
  if (profile::enabled()) {  // the one branch of note [profiler cost]
    double bytes = 0, flops = -1;
    std::string shapes;
    (detail::profile_arg(args, bytes, shapes), ...);
    if constexpr (detail::has_flops<OpT, void, A...>::value) flops = OpT::flops(args...);
    profile::OpTimer timer(b, OpT::info.name, std::move(shapes), bytes, flops);
    return kernel(b, std::forward<A>(args)...);
  }
  return kernel(b, std::forward<A>(args)...);
}

// --- debug checks ------------------------------------------------------------------------

// Note [debug checks]: checks of data the library produced itself (max pooling's argmax)
// cost a pass over the data and, on a GPU, a host synchronisation, so they run only when
// asked: setDebugChecks(true) from JS, or NEWTON_DEBUG_CHECKS=1 at start-up. Off, they cost
// one branch. Kernels stay memory-safe without them.
bool debug_checks();
void set_debug_checks(bool on);

}  // namespace newton
