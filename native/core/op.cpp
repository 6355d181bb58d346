// The checks, output allocation and debug switch shared by every op declaration (op.h).
#include "op.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>


namespace newton {
namespace check {

void defined(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined()) fail<ArgumentTypeError>(op, ": ", arg, " must be a Tensor, got an empty handle");
}

void floating(const char* op, const char* arg, const Tensor& t) {
  defined(op, arg, t);
  if (!is_floating(t.dtype())) {
    fail<ShapeError>(op, ": ", arg, " must be float32 or float64, got ", dtype_name(t.dtype()));
  }
}

void index(const char* op, const char* arg, const Tensor& t) {
  defined(op, arg, t);
  if (t.dtype() != DType::I32) fail<ShapeError>(op, ": ", arg, " must be int32, got ", dtype_name(t.dtype()));
}

void same_dtype(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  if (t.dtype() != first.dtype()) {
    fail<ShapeError>(op, ": ", arg, " has dtype ", dtype_name(t.dtype()), " but ", first_arg, " has ",
                     dtype_name(first.dtype()));
  }
}

void same_device(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  if (t.device() != first.device()) {
    fail<ShapeError>(op, ": ", arg, " is on ", t.device().name(), " but ", first_arg, " is on ",
                     first.device().name());
  }
}

void same_shape(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  if (t.shape() != first.shape()) {
    fail<ShapeError>(op, ": ", arg, " has shape ", fmt(t.shape()), " but ", first_arg, " has shape ",
                     fmt(first.shape()));
  }
}

void like(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  floating(op, arg, t);
  same_dtype(op, arg, t, first_arg, first);
  same_device(op, arg, t, first_arg, first);
}

void ndim(const char* op, const char* arg, const Shape& shape, std::size_t n, const char* layout) {
  if (shape.size() != n) fail<ShapeError>(op, ": ", arg, " must have ", n, " dimensions ", layout, ", got shape ", fmt(shape));
}

void nonempty(const char* op, const char* arg, const Shape& shape) {
  for (int64_t d : shape) {
    if (d == 0) fail<ShapeError>(op, ": ", arg, " must not be empty, got shape ", fmt(shape));
  }
}

void shape_is(const char* op, const char* arg, const Shape& shape, const Shape& expected, const char* because) {
  if (shape != expected) {
    fail<ShapeError>(op, ": ", arg, " must have shape ", fmt(expected), " (", because, "), got ", fmt(shape));
  }
}

void finite(const char* op, const char* name, double value) {
  if (!std::isfinite(value)) fail<ValueError>(op, ": ", name, " must be a finite number, got ", value);
}

void positive(const char* op, const char* name, int64_t value) {
  if (value < 1) fail<ValueError>(op, ": ", name, " must be a positive integer, got ", value);
}

void non_negative(const char* op, const char* name, int64_t value) {
  if (value < 0) fail<ValueError>(op, ": ", name, " must be a non-negative integer, got ", value);
}

void disjoint(const char* op, const char* what, const Tensor& a, const Tensor& b) {
  if (a.overlaps(b)) fail<ValueError>(op, ": ", what, " must not overlap in memory");
}

}  // namespace check

Tensor allocate(const char* op, const Shape& shape, DType dtype, Device device) {
  double count = 1;
  for (int64_t d : shape) {
    if (d < 0) fail<ShapeError>(op, ": negative extent in shape ", fmt(shape));
    count *= static_cast<double>(d);
  }
  if (count > 1099511627776.0) fail<ShapeError>(op, ": shape ", fmt(shape), " has too many elements");
  const double bytes = count * static_cast<double>(dtype_size(dtype));
  auto what = [&] {
    std::ostringstream out;
    out << op << ": out of memory allocating " << format_bytes(bytes) << " (" << static_cast<uint64_t>(bytes)
        << " bytes) for a " << dtype_name(dtype) << " tensor of shape " << fmt(shape) << " on " << device.name();
    return out.str();
  };
  Backend& backend = backend_for(device, op);
  // The allocator checks the request against the memory really available (note [host memory
  // check] in allocator.cpp) and says how much that is.
  try {
    return Tensor::empty(shape, dtype, backend.allocator());
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(what());
  } catch (const OutOfMemoryError& e) {
    throw OutOfMemoryError(what() + ": " + e.what());
  }
}

namespace {
std::atomic<bool>& debug_flag() {
  static std::atomic<bool> flag{[] {
    const char* env = std::getenv("NEWTON_DEBUG_CHECKS");
    return env != nullptr && (std::strcmp(env, "1") == 0 || std::strcmp(env, "true") == 0);
  }()};
  return flag;
}
}  // namespace

bool debug_checks() { return debug_flag().load(std::memory_order_relaxed); }
void set_debug_checks(bool on) { debug_flag().store(on, std::memory_order_relaxed); }

}  // namespace newton
