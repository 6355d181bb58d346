// Tensor creation and transfers (ops.h). Every op lives in its family's header (ops/*.h).
#include "ops.h"

namespace newton {
namespace ops {

Tensor empty(const char* op, const Shape& shape, DType dtype, Device device) {
  Backend& backend = backend_for(device, op);
  // A device holds the dtypes it can fill: a float64 tensor on cuda is refused here, once.
  if (!supported<Fill>(backend, dtype)) fail<ShapeError>(op, ": ", dtype_name(dtype), " tensors are not supported on ", device.name());
  return allocate(op, shape, dtype, device);
}

Tensor from_host(const char* op, const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(op, shape, dtype, device);
  if (t.numel() > 0) backend_for(device).copy_from_host(t, data);
  return t;
}

void to_host(const Tensor& t, void* dst) {
  check::defined("toArray", "tensor", t);
  if (t.numel() > 0) backend_for(t.device()).copy_to_host(dst, t);
}

Tensor full(const char* op, const Shape& shape, double value, DType dtype, Device device) {
  check_fill_value(op, value, dtype);
  Tensor t = empty(op, shape, dtype, device);
  if (profile::enabled()) profile::set_caller(op);
  if (t.numel() > 0) launch<Fill>(t, t, value);
  return t;
}

Tensor clone(const char* op, const Tensor& x) {
  check::defined(op, "x", x);
  Tensor out = allocate_like(op, x, x.shape());
  if (profile::enabled()) profile::set_caller(op);
  if (x.numel() > 0) launch<Copy>(x, out, x);
  return out;
}

}  // namespace ops
}  // namespace newton
