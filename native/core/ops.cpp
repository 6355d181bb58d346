// Argument checks, output allocation and dispatch for every op (see ops.h).
#include "ops.h"

#include <cmath>

#include "error.h"
#include "registry.h"

namespace newton {
namespace ops {
namespace {

// --- checks shared by the ops (messages follow note [error messages] in ops.h) --------

void require_defined(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined()) fail<ArgumentTypeError>(op, ": ", arg, " must be a Tensor, got an empty handle");
}

void require_floating(const char* op, const char* arg, const Tensor& t) {
  require_defined(op, arg, t);
  if (!is_floating(t.dtype())) {
    fail<ShapeError>(op, ": ", arg, " must be float32 or float64, got ", dtype_name(t.dtype()));
  }
}

void require_same_dtype(const char* op, const char* arg, const Tensor& t, const char* other_arg,
                        const Tensor& other) {
  if (t.dtype() != other.dtype()) {
    fail<ShapeError>(op, ": ", arg, " has dtype ", dtype_name(t.dtype()), " but ", other_arg, " has ",
                     dtype_name(other.dtype()));
  }
}

void require_same_device(const char* op, const char* arg, const Tensor& t, const char* other_arg,
                         const Tensor& other) {
  if (t.device() != other.device()) {
    fail<ShapeError>(op, ": ", arg, " is on ", t.device().name(), " but ", other_arg, " is on ",
                     other.device().name());
  }
}

void require_same_shape(const char* op, const char* arg, const Tensor& t, const char* other_arg,
                        const Tensor& other) {
  if (t.shape() != other.shape()) {
    fail<ShapeError>(op, ": ", arg, " has shape ", fmt(t.shape()), " but ", other_arg, " has shape ",
                     fmt(other.shape()));
  }
}

// A second floating-point operand that must match the first in dtype and device.
void require_compatible(const char* op, const char* arg, const Tensor& t, const char* first_arg,
                        const Tensor& first) {
  require_floating(op, arg, t);
  require_same_dtype(op, arg, t, first_arg, first);
  require_same_device(op, arg, t, first_arg, first);
}

void require_ndim(const char* op, const char* arg, const Shape& shape, std::size_t ndim, const char* layout) {
  if (shape.size() != ndim) {
    fail<ShapeError>(op, ": ", arg, " must have ", ndim, " dimensions ", layout, ", got shape ", fmt(shape));
  }
}

// Layers and losses refuse empty tensors: an empty batch is always a caller's mistake.
void require_nonempty(const char* op, const char* arg, const Shape& shape) {
  for (int64_t d : shape) {
    if (d == 0) fail<ShapeError>(op, ": ", arg, " must not be empty, got shape ", fmt(shape));
  }
}

void require_finite(const char* op, const char* name, double value) {
  if (!std::isfinite(value)) fail<ValueError>(op, ": ", name, " must be a finite number, got ", value);
}

void require_positive(const char* op, const char* name, int64_t value) {
  if (value < 1) fail<ValueError>(op, ": ", name, " must be a positive integer, got ", value);
}

void require_non_negative(const char* op, const char* name, int64_t value) {
  if (value < 0) fail<ValueError>(op, ": ", name, " must be a non-negative integer, got ", value);
}

// The backend of `t`'s device, after checking that it runs `op` in `t`'s dtype.
Backend& backend_of(Op op, const Tensor& t) {
  Backend& backend = backend_for(t.device());
  if (!backend.supports(op, t.dtype())) {
    fail<ShapeError>(op_name(op), ": ", dtype_name(t.dtype()), " is not supported on ", t.device().name());
  }
  return backend;
}

Tensor empty_like(const Tensor& t, const Shape& shape) {
  return Tensor::empty(shape, t.dtype(), backend_for(t.device()).allocator());
}

Tensor binary(Op op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  require_floating(name, "a", a);
  require_compatible(name, "b", b, "a", a);
  require_same_shape(name, "b", b, "a", a);
  Backend& backend = backend_of(op, a);
  Tensor out = empty_like(a, a.shape());
  backend.binary(kind, out, a, b);
  return out;
}

Tensor unary(Op op, const Tensor& x, void (Backend::*kernel)(Tensor&, const Tensor&)) {
  require_floating(op_name(op), "x", x);
  Backend& backend = backend_of(op, x);
  Tensor out = empty_like(x, x.shape());
  (backend.*kernel)(out, x);
  return out;
}

// (N, K) network outputs against (N, K) targets or tangents.
void check_loss_args(Op op, const Tensor& z, const char* other_arg, const Tensor& other) {
  const char* name = op_name(op);
  require_floating(name, "z", z);
  require_ndim(name, "z", z.shape(), 2, "(N, K)");
  require_nonempty(name, "z", z.shape());
  require_compatible(name, other_arg, other, "z", z);
  require_same_shape(name, other_arg, other, "z", z);
}

void check_conv_params(const char* op, const Conv2dParams& p) {
  require_positive(op, "stride", p.stride_h);
  require_positive(op, "stride", p.stride_w);
  require_non_negative(op, "padding", p.pad_h);
  require_non_negative(op, "padding", p.pad_w);
}

void check_pool_params(const char* op, const Pool2dParams& p) {
  require_positive(op, "kernel", p.kernel_h);
  require_positive(op, "kernel", p.kernel_w);
  require_positive(op, "stride", p.stride_h);
  require_positive(op, "stride", p.stride_w);
  require_non_negative(op, "padding", p.pad_h);
  require_non_negative(op, "padding", p.pad_w);
  // Smaller padding guarantees every window holds at least one real element.
  if (p.pad_h >= p.kernel_h || p.pad_w >= p.kernel_w) {
    fail<ValueError>(op, ": padding (", p.pad_h, ", ", p.pad_w, ") must be smaller than the kernel (",
                     p.kernel_h, ", ", p.kernel_w, ")");
  }
}

Shape checked_shape(const char* op, const char* arg, const Shape& shape, std::size_t ndim, const char* layout) {
  require_ndim(op, arg, shape, ndim, layout);
  require_nonempty(op, arg, shape);
  return shape;
}

}  // namespace

// --- creation and data movement -----------------------------------------------------

Tensor empty(const Shape& shape, DType dtype, Device device) {
  Backend& backend = backend_for(device);
  // Creation is a fill's worth of support: a float64 tensor on cuda is refused here, once.
  if (!backend.supports(Op::Fill, dtype)) {
    fail<ShapeError>(dtype_name(dtype), " tensors are not supported on ", device.name());
  }
  return Tensor::empty(shape, dtype, backend.allocator());
}

Tensor from_host(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.numel() > 0) backend_for(device).copy_from_host(t, data);
  return t;
}

void to_host(const Tensor& t, void* dst) {
  require_defined("toArray", "tensor", t);
  if (t.numel() > 0) backend_for(t.device()).copy_to_host(dst, t);
}

void fill(Tensor& t, double value) {
  const char* name = op_name(Op::Fill);
  require_defined(name, "t", t);
  if (std::isnan(value) && t.dtype() == DType::I32) fail<ValueError>(name, ": cannot fill an int32 tensor with NaN");
  backend_of(Op::Fill, t).fill(t, value);
}

void copy(Tensor& dst, const Tensor& src) {
  const char* name = op_name(Op::Copy);
  require_defined(name, "dst", dst);
  require_defined(name, "src", src);
  require_same_dtype(name, "src", src, "dst", dst);
  require_same_device(name, "src", src, "dst", dst);
  require_same_shape(name, "src", src, "dst", dst);
  if (dst.overlaps(src) && dst.raw() != src.raw()) {
    fail<ValueError>(name, ": dst and src overlap in memory");
  }
  backend_of(Op::Copy, dst).copy(dst, src);
}

Tensor cast(const Tensor& x, DType dtype) {
  require_defined(op_name(Op::Cast), "x", x);
  if (dtype == DType::I32 && x.dtype() != DType::I32) {
    fail<ShapeError>("cast: cannot cast ", dtype_name(x.dtype()), " to int32 (int32 tensors hold indices only)");
  }
  Backend& backend = backend_for(x.device());
  if (!backend.supports(Op::Cast, x.dtype()) || !backend.supports(Op::Cast, dtype)) {
    fail<ShapeError>("cast: ", dtype_name(x.dtype()), " to ", dtype_name(dtype), " is not supported on ",
                     x.device().name());
  }
  Tensor out = Tensor::empty(x.shape(), dtype, backend.allocator());
  backend.cast(out, x);
  return out;
}

Tensor clone(const Tensor& x) {
  require_defined("clone", "x", x);
  Tensor out = empty_like(x, x.shape());
  backend_of(Op::Copy, x).copy(out, x);
  return out;
}

// --- element-wise ----------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) { return binary(Op::Add, BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(Op::Sub, BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(Op::Mul, BinaryOp::Mul, a, b); }

Tensor scale(const Tensor& x, double alpha) {
  const char* name = op_name(Op::Scale);
  require_floating(name, "x", x);
  require_finite(name, "alpha", alpha);
  Backend& backend = backend_of(Op::Scale, x);
  Tensor out = empty_like(x, x.shape());
  backend.scale(out, x, alpha);
  return out;
}

void axpy(Tensor& y, double alpha, const Tensor& x) {
  const char* name = op_name(Op::Axpy);
  require_floating(name, "y", y);
  require_compatible(name, "x", x, "y", y);
  require_same_shape(name, "x", x, "y", y);
  require_finite(name, "alpha", alpha);
  if (y.overlaps(x) && y.raw() != x.raw()) fail<ValueError>(name, ": y and x overlap in memory");
  backend_of(Op::Axpy, y).axpy(y, alpha, x);
}

Tensor relu(const Tensor& x) { return unary(Op::Relu, x, &Backend::relu); }
Tensor relu_mask(const Tensor& x) { return unary(Op::ReluMask, x, &Backend::relu_mask); }

Tensor relu_backward(const Tensor& dy, const Tensor& x) {
  const char* name = op_name(Op::ReluBackward);
  require_floating(name, "dy", dy);
  require_compatible(name, "x", x, "dy", dy);
  require_same_shape(name, "x", x, "dy", dy);
  Backend& backend = backend_of(Op::ReluBackward, dy);
  Tensor dx = empty_like(dy, dy.shape());
  backend.relu_backward(dx, dy, x);
  return dx;
}

// --- reductions ---------------------------------------------------------------------------

double sum(const Tensor& x) {
  require_floating(op_name(Op::Sum), "x", x);
  return backend_of(Op::Sum, x).sum(x);
}

double dot(const Tensor& a, const Tensor& b) {
  const char* name = op_name(Op::Dot);
  require_floating(name, "a", a);
  require_compatible(name, "b", b, "a", a);
  require_same_shape(name, "b", b, "a", a);
  return backend_of(Op::Dot, a).dot(a, b);
}

double squared_norm(const Tensor& x) {
  require_floating(op_name(Op::SquaredNorm), "x", x);
  return backend_of(Op::SquaredNorm, x).squared_norm(x);
}

double cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
  const char* name = op_name(Op::CgUpdate);
  require_floating(name, "x", x);
  require_compatible(name, "r", r, "x", x);
  require_compatible(name, "p", p, "x", x);
  require_compatible(name, "q", q, "x", x);
  require_same_shape(name, "r", r, "x", x);
  require_same_shape(name, "p", p, "x", x);
  require_same_shape(name, "q", q, "x", x);
  require_finite(name, "alpha", alpha);
  if (x.overlaps(r) || x.overlaps(p) || x.overlaps(q) || r.overlaps(p) || r.overlaps(q)) {
    fail<ValueError>(name, ": x and r must not overlap each other, p or q");
  }
  return backend_of(Op::CgUpdate, x).cg_update(x, r, p, q, alpha);
}

// --- linear algebra ---------------------------------------------------------------------------

Tensor gemm(const Tensor& a, const Tensor& b, const GemmParams& p, const Tensor* c) {
  const char* name = op_name(Op::Gemm);
  require_floating(name, "a", a);
  require_ndim(name, "a", a.shape(), 2, "(rows, columns)");
  require_compatible(name, "b", b, "a", a);
  require_ndim(name, "b", b.shape(), 2, "(rows, columns)");
  require_finite(name, "alpha", p.alpha);
  require_finite(name, "beta", p.beta);
  const int64_t m = p.trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = p.trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = p.trans_b ? b.dim(1) : b.dim(0);
  const int64_t n = p.trans_b ? b.dim(0) : b.dim(1);
  if (k != kb) {
    fail<ShapeError>(name, ": inner dimensions differ: op(a) is (", m, ", ", k, ") from a of shape ", fmt(a.shape()),
                     ", op(b) is (", kb, ", ", n, ") from b of shape ", fmt(b.shape()));
  }
  Backend& backend = backend_of(Op::Gemm, a);
  Tensor out = empty_like(a, {m, n});
  GemmParams q = p;
  if (c != nullptr) {
    require_compatible(name, "c", *c, "a", a);
    if (c->shape() != out.shape()) {
      fail<ShapeError>(name, ": c must have shape ", fmt(out.shape()), " (rows of op(a), columns of op(b)), got ",
                       fmt(c->shape()));
    }
    backend.copy(out, *c);
  } else {
    q.beta = 0.0;
  }
  backend.gemm(out, a, b, q);
  return out;
}

namespace {
void check_bias(const char* op, const Tensor& y, const Tensor& b) {
  require_floating(op, "y", y);
  if (y.ndim() < 2) fail<ShapeError>(op, ": y must have at least 2 dimensions (N, C, ...), got shape ", fmt(y.shape()));
  require_compatible(op, "b", b, "y", y);
  if (b.ndim() != 1 || b.dim(0) != y.dim(1)) {
    fail<ShapeError>(op, ": b must have shape (", y.dim(1), ") to match the channels of y ", fmt(y.shape()),
                     ", got shape ", fmt(b.shape()));
  }
}
}  // namespace

Tensor bias_add(const Tensor& y, const Tensor& b) {
  check_bias(op_name(Op::BiasAdd), y, b);
  Backend& backend = backend_of(Op::BiasAdd, y);
  Tensor out = empty_like(y, y.shape());
  backend.copy(out, y);
  backend.bias_add(out, b);
  return out;
}

Tensor bias_grad(const Tensor& dy) {
  const char* name = op_name(Op::BiasGrad);
  require_floating(name, "dy", dy);
  if (dy.ndim() < 2) fail<ShapeError>(name, ": dy must have at least 2 dimensions (N, C, ...), got shape ", fmt(dy.shape()));
  Backend& backend = backend_of(Op::BiasGrad, dy);
  Tensor db = empty_like(dy, {dy.dim(1)});
  backend.bias_grad(db, dy);
  return db;
}

// --- linear layer -----------------------------------------------------------------------------

namespace {
void check_linear(const char* op, const Tensor& x, const Tensor& w) {
  require_floating(op, "x", x);
  checked_shape(op, "x", x.shape(), 2, "(N, in_features)");
  require_compatible(op, "w", w, "x", x);
  checked_shape(op, "w", w.shape(), 2, "(out_features, in_features)");
  if (w.dim(1) != x.dim(1)) {
    fail<ShapeError>(op, ": w has ", w.dim(1), " input features (shape ", fmt(w.shape()), ") but x has ", x.dim(1),
                     " (shape ", fmt(x.shape()), ")");
  }
}
}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* b) {
  const char* name = "linear";
  check_linear(name, x, w);
  if (b != nullptr) {
    require_compatible(name, "b", *b, "x", x);
    if (b->ndim() != 1 || b->dim(0) != w.dim(0)) {
      fail<ShapeError>(name, ": b must have shape (", w.dim(0), ") to match w ", fmt(w.shape()), ", got shape ",
                       fmt(b->shape()));
    }
  }
  Backend& backend = backend_of(Op::Gemm, x);
  Tensor y = empty_like(x, {x.dim(0), w.dim(0)});
  GemmParams p;
  p.trans_b = true;
  backend.gemm(y, x, w, p);
  if (b != nullptr) backend.bias_add(y, *b);
  return y;
}

LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias) {
  const char* name = "linearBackward";
  check_linear(name, x, w);
  require_compatible(name, "dy", dy, "x", x);
  const Shape expected{x.dim(0), w.dim(0)};
  if (dy.shape() != expected) {
    fail<ShapeError>(name, ": dy must have shape ", fmt(expected), " (N, out_features) for x ", fmt(x.shape()),
                     " and w ", fmt(w.shape()), ", got ", fmt(dy.shape()));
  }
  Backend& backend = backend_of(Op::Gemm, x);
  LinearGrads g;
  g.dx = empty_like(x, x.shape());
  backend.gemm(g.dx, dy, w, GemmParams{});  // (N, O)·(O, I)
  g.dw = empty_like(w, w.shape());
  GemmParams p;
  p.trans_a = true;
  backend.gemm(g.dw, dy, x, p);  // (N, O)ᵀ·(N, I)
  if (has_bias) {
    g.db = empty_like(dy, {w.dim(0)});
    backend_of(Op::BiasGrad, dy).bias_grad(g.db, dy);
  }
  return g;
}

// --- convolution ---------------------------------------------------------------------------------

Shape conv2d_output_shape(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  checked_shape(op, "x", x, 4, "(N, C, H, W)");
  checked_shape(op, "w", w, 4, "(K, C, R, S)");
  check_conv_params(op, p);
  if (w[1] != x[1]) {
    fail<ShapeError>(op, ": w has ", w[1], " input channels (shape ", fmt(w), ") but x has ", x[1], " (shape ",
                     fmt(x), ")");
  }
  const int64_t padded_h = x[2] + 2 * p.pad_h, padded_w = x[3] + 2 * p.pad_w;
  if (w[2] > padded_h || w[3] > padded_w) {
    fail<ShapeError>(op, ": kernel ", w[2], "x", w[3], " of w ", fmt(w), " is larger than the padded input ", padded_h,
                     "x", padded_w, " of x ", fmt(x));
  }
  return {x[0], w[0], (padded_h - w[2]) / p.stride_h + 1, (padded_w - w[3]) / p.stride_w + 1};
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
  const char* name = op_name(Op::Conv2dForward);
  require_floating(name, "x", x);
  require_compatible(name, "w", w, "x", x);
  const Shape y_shape = conv2d_output_shape(name, x.shape(), w.shape(), p);
  if (b != nullptr) {
    require_compatible(name, "b", *b, "x", x);
    if (b->ndim() != 1 || b->dim(0) != w.dim(0)) {
      fail<ShapeError>(name, ": b must have shape (", w.dim(0), ") to match the filters of w ", fmt(w.shape()),
                       ", got shape ", fmt(b->shape()));
    }
  }
  Backend& backend = backend_of(Op::Conv2dForward, x);
  Tensor y = empty_like(x, y_shape);
  backend.conv2d_forward(y, x, w, p);
  if (b != nullptr) backend_of(Op::BiasAdd, y).bias_add(y, *b);
  return y;
}

namespace {
void require_output_grad(const char* op, const Tensor& dy, const Shape& expected, const char* because) {
  if (dy.shape() != expected) {
    fail<ShapeError>(op, ": dy must have shape ", fmt(expected), " (the output for ", because, "), got ",
                     fmt(dy.shape()));
  }
}
}  // namespace

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) {
  const char* name = op_name(Op::Conv2dBackwardData);
  require_floating(name, "dy", dy);
  require_compatible(name, "w", w, "dy", dy);
  const Shape y_shape = conv2d_output_shape(name, x_shape, w.shape(), p);
  require_output_grad(name, dy, y_shape, "xShape and w");
  Backend& backend = backend_of(Op::Conv2dBackwardData, dy);
  Tensor dx = empty_like(dy, x_shape);
  backend.conv2d_backward_data(dx, dy, w, p);
  return dx;
}

Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) {
  const char* name = op_name(Op::Conv2dBackwardFilter);
  require_floating(name, "dy", dy);
  require_compatible(name, "x", x, "dy", dy);
  const Shape y_shape = conv2d_output_shape(name, x.shape(), w_shape, p);
  require_output_grad(name, dy, y_shape, "x and wShape");
  Backend& backend = backend_of(Op::Conv2dBackwardFilter, dy);
  Tensor dw = empty_like(dy, w_shape);
  backend.conv2d_backward_filter(dw, dy, x, p);
  return dw;
}

// --- pooling -------------------------------------------------------------------------------------

Shape pool2d_output_shape(const char* op, const Shape& x, const Pool2dParams& p) {
  checked_shape(op, "x", x, 4, "(N, C, H, W)");
  check_pool_params(op, p);
  const int64_t padded_h = x[2] + 2 * p.pad_h, padded_w = x[3] + 2 * p.pad_w;
  if (p.kernel_h > padded_h || p.kernel_w > padded_w) {
    fail<ShapeError>(op, ": kernel ", p.kernel_h, "x", p.kernel_w, " is larger than the padded input ", padded_h, "x",
                     padded_w, " of x ", fmt(x));
  }
  return {x[0], x[1], (padded_h - p.kernel_h) / p.stride_h + 1, (padded_w - p.kernel_w) / p.stride_w + 1};
}

MaxPoolResult max_pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  const char* name = op_name(Op::MaxPool2dForward);
  require_floating(name, "x", x);
  const Shape y_shape = pool2d_output_shape(name, x.shape(), p);
  Backend& backend = backend_of(Op::MaxPool2dForward, x);
  MaxPoolResult r;
  r.y = empty_like(x, y_shape);
  r.argmax = Tensor::empty(y_shape, DType::I32, backend.allocator());
  backend.max_pool2d_forward(r.y, r.argmax, x, p);
  return r;
}

namespace {
// dy and argmax against the input shape; shared by both pooling backwards.
void check_max_pool_grad(const char* name, const Tensor& dy, const Tensor& argmax, const Shape& x_shape,
                         const Pool2dParams& p) {
  require_floating(name, "dy", dy);
  require_defined(name, "argmax", argmax);
  if (argmax.dtype() != DType::I32) {
    fail<ShapeError>(name, ": argmax must be int32 (from maxPool2d), got ", dtype_name(argmax.dtype()));
  }
  require_same_device(name, "argmax", argmax, "dy", dy);
  const Shape y_shape = pool2d_output_shape(name, x_shape, p);
  require_output_grad(name, dy, y_shape, "xShape and the pooling options");
  require_same_shape(name, "argmax", argmax, "dy", dy);
}
}  // namespace

Tensor max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Shape& x_shape, const Pool2dParams& p) {
  check_max_pool_grad(op_name(Op::MaxPool2dBackward), dy, argmax, x_shape, p);
  Backend& backend = backend_of(Op::MaxPool2dBackward, dy);
  Tensor dx = empty_like(dy, x_shape);
  backend.max_pool2d_backward(dx, dy, argmax, p, nullptr);
  return dx;
}

Tensor max_pool2d_relu_backward(const Tensor& dy, const Tensor& argmax, const Tensor& relu_input, const Pool2dParams& p) {
  const char* name = op_name(Op::MaxPool2dReluBackward);
  require_floating(name, "reluInput", relu_input);
  require_compatible(name, "dy", dy, "reluInput", relu_input);
  check_max_pool_grad(name, dy, argmax, relu_input.shape(), p);
  Backend& backend = backend_of(Op::MaxPool2dReluBackward, dy);
  Tensor dx = empty_like(dy, relu_input.shape());
  backend.max_pool2d_backward(dx, dy, argmax, p, &relu_input);
  return dx;
}

Tensor max_pool2d_jvp(const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) {
  const char* name = op_name(Op::MaxPool2dJvp);
  require_floating(name, "rx", rx);
  require_defined(name, "argmax", argmax);
  if (argmax.dtype() != DType::I32) {
    fail<ShapeError>(name, ": argmax must be int32 (from maxPool2d), got ", dtype_name(argmax.dtype()));
  }
  require_same_device(name, "argmax", argmax, "rx", rx);
  const Shape y_shape = pool2d_output_shape(name, rx.shape(), p);
  if (argmax.shape() != y_shape) {
    fail<ShapeError>(name, ": argmax must have shape ", fmt(y_shape), " (the output for rx ", fmt(rx.shape()),
                     " and the pooling options), got ", fmt(argmax.shape()));
  }
  Backend& backend = backend_of(Op::MaxPool2dJvp, rx);
  Tensor ry = empty_like(rx, y_shape);
  backend.max_pool2d_jvp(ry, rx, argmax, p);
  return ry;
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  const char* name = op_name(Op::AvgPool2dForward);
  require_floating(name, "x", x);
  const Shape y_shape = pool2d_output_shape(name, x.shape(), p);
  Backend& backend = backend_of(Op::AvgPool2dForward, x);
  Tensor y = empty_like(x, y_shape);
  backend.avg_pool2d_forward(y, x, p);
  return y;
}

Tensor avg_pool2d_backward(const Tensor& dy, const Shape& x_shape, const Pool2dParams& p) {
  const char* name = op_name(Op::AvgPool2dBackward);
  require_floating(name, "dy", dy);
  const Shape y_shape = pool2d_output_shape(name, x_shape, p);
  require_output_grad(name, dy, y_shape, "xShape and the pooling options");
  Backend& backend = backend_of(Op::AvgPool2dBackward, dy);
  Tensor dx = empty_like(dy, x_shape);
  backend.avg_pool2d_backward(dx, dy, p);
  return dx;
}

// --- losses ----------------------------------------------------------------------------------------

double squared_loss(const Tensor& z, const Tensor& y) {
  check_loss_args(Op::SquaredLoss, z, "y", y);
  return backend_of(Op::SquaredLoss, z).squared_loss(z, y);
}

Tensor squared_loss_grad(const Tensor& z, const Tensor& y) {
  check_loss_args(Op::SquaredLossGrad, z, "y", y);
  Backend& backend = backend_of(Op::SquaredLossGrad, z);
  Tensor dz = empty_like(z, z.shape());
  backend.squared_loss_grad(dz, z, y);
  return dz;
}

Tensor squared_loss_hvp(const Tensor& z, const Tensor& u) {
  // B = 2I for ξ = ‖z − y‖², whatever z is; z is checked so that misuse is caught.
  const char* name = "squaredLossHessianProduct";
  require_floating(name, "z", z);
  require_ndim(name, "z", z.shape(), 2, "(N, K)");
  require_nonempty(name, "z", z.shape());
  require_compatible(name, "u", u, "z", z);
  require_same_shape(name, "u", u, "z", z);
  Backend& backend = backend_of(Op::Scale, u);
  Tensor out = empty_like(u, u.shape());
  backend.scale(out, u, 2.0);
  return out;
}

Tensor softmax(const Tensor& z) {
  const char* name = op_name(Op::Softmax);
  require_floating(name, "z", z);
  require_ndim(name, "z", z.shape(), 2, "(N, K)");
  require_nonempty(name, "z", z.shape());
  Backend& backend = backend_of(Op::Softmax, z);
  Tensor p = empty_like(z, z.shape());
  backend.softmax(p, z);
  return p;
}

double softmax_cross_entropy(const Tensor& z, const Tensor& y) {
  check_loss_args(Op::SoftmaxCrossEntropy, z, "y", y);
  return backend_of(Op::SoftmaxCrossEntropy, z).softmax_cross_entropy(z, y);
}

Tensor softmax_cross_entropy_grad(const Tensor& z, const Tensor& y) {
  check_loss_args(Op::SoftmaxCrossEntropyGrad, z, "y", y);
  Backend& backend = backend_of(Op::SoftmaxCrossEntropyGrad, z);
  Tensor dz = empty_like(z, z.shape());
  backend.softmax_cross_entropy_grad(dz, z, y);
  return dz;
}

Tensor softmax_cross_entropy_hvp(const Tensor& z, const Tensor& u) {
  check_loss_args(Op::SoftmaxCrossEntropyHvp, z, "u", u);
  Backend& backend = backend_of(Op::SoftmaxCrossEntropyHvp, z);
  Tensor out = empty_like(z, z.shape());
  backend.softmax_cross_entropy_hvp(out, z, u);
  return out;
}

// --- random numbers ----------------------------------------------------------------------------------

void random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) {
  const char* name = op_name(Op::RandomUniform);
  require_floating(name, "t", t);
  require_finite(name, "low", low);
  require_finite(name, "high", high);
  if (!(low <= high)) fail<ValueError>(name, ": low (", low, ") must not exceed high (", high, ")");
  backend_of(Op::RandomUniform, t).random_uniform(t, seed, offset, low, high);
}

void random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  const char* name = op_name(Op::RandomNormal);
  require_floating(name, "t", t);
  require_finite(name, "mean", mean);
  require_finite(name, "std", stddev);
  if (stddev < 0) fail<ValueError>(name, ": std must be non-negative, got ", stddev);
  backend_of(Op::RandomNormal, t).random_normal(t, seed, offset, mean, stddev);
}

}  // namespace ops
}  // namespace newton
