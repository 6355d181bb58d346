// cnn3's passes composed from the core's ops (cnn3.h). Shapes are written for 28×28×1 and
// batch N; other image sizes follow the same rules.
#include "cnn3.h"

#include <cmath>

namespace newton {
namespace bench {

namespace {

constexpr int64_t kFilters[3] = {32, 64, 64};
constexpr int64_t kKernels[3] = {5, 3, 3};

Tensor normal(const Shape& shape, double std, Device device, uint64_t seed) {
  ops::NormalOptions o;
  o.seed = seed;
  o.device = device;
  o.b = std;
  return ops::RandomNormal::run(shape, o);
}

Tensor zeros(const Shape& shape, Device device) { return ops::full("newton-cnn-bench", shape, 0.0, DType::F32, device); }

}  // namespace

std::vector<Tensor*> Cnn3Params::all() { return {&w[0], &b[0], &w[1], &b[1], &w[2], &b[2], &w4, &b4}; }

Cnn3::Cnn3(int64_t channels, int64_t height, int64_t width, int64_t classes, Device device, uint64_t seed) {
  int64_t c = channels, h = height, wd = width;
  for (int l = 0; l < 3; ++l) {
    const int64_t k = kKernels[l];
    params_.w[l] = normal({kFilters[l], c, k, k}, 1.0 / std::sqrt(static_cast<double>(c * k * k)), device, seed + l);
    params_.b[l] = zeros({kFilters[l]}, device);
    conv_[l].pad_h = conv_[l].pad_w = (k - 1) / 2;
    c = kFilters[l];
    h /= 2;
    wd /= 2;
  }
  const int64_t features = c * h * wd;
  params_.w4 = normal({classes, features}, 1.0 / std::sqrt(static_cast<double>(features)), device, seed + 3);
  params_.b4 = zeros({classes}, device);
}

Cnn3Params Cnn3::zeros_like() const {
  Cnn3Params z;
  Cnn3Params& p = const_cast<Cnn3Params&>(params_);
  std::vector<Tensor*> src = p.all(), dst = z.all();
  for (std::size_t i = 0; i < src.size(); ++i) *dst[i] = zeros(src[i]->shape(), src[i]->device());
  return z;
}

Cnn3Params Cnn3::random_like(uint64_t seed) const {
  Cnn3Params v;
  Cnn3Params& p = const_cast<Cnn3Params&>(params_);
  std::vector<Tensor*> src = p.all(), dst = v.all();
  for (std::size_t i = 0; i < src.size(); ++i) *dst[i] = normal(src[i]->shape(), 1.0, src[i]->device(), seed + i);
  return v;
}

Cnn3Cache Cnn3::forward(const Tensor& x) const {
  // x: (N, 1, 28, 28) -> pre[0] (N, 32, 28, 28) -> (N, 32, 14, 14) -> ... -> features (N, 576)
  Cnn3Cache c;
  Tensor a = x;
  for (int l = 0; l < 3; ++l) {
    c.in[l] = a;
    c.pre[l] = ops::Conv2d::run(a, params_.w[l], &params_.b[l], conv_[l]);
    ops::MaxPoolResult pooled = ops::MaxPool2d::run(ops::Relu::run(c.pre[l]), pool_);
    c.argmax[l] = pooled.argmax;
    a = pooled.y;
  }
  c.features = a.reshape({a.dim(0), a.numel() / a.dim(0)});
  c.z = ops::Linear::run(c.features, params_.w4, &params_.b4);
  return c;
}

Cnn3Params Cnn3::backward(const Cnn3Cache& c, const Tensor& dz) const {
  // dz: (N, classes)
  Cnn3Params g;
  ops::LinearGrads lg = ops::LinearBackward::run(dz, c.features, params_.w4, ops::LinearBackwardOptions{});
  g.w4 = lg.dw;
  g.b4 = *lg.db;
  const Tensor& last = c.pre[2];
  Tensor dy = lg.dx.reshape({last.dim(0), last.dim(1), last.dim(2) / 2, last.dim(3) / 2});
  for (int l = 2; l >= 0; --l) {
    // The ReLU → max-pool pair's backward in one pass: the gradient of the pre-activation.
    const Tensor dpre = ops::MaxPool2dReluBackward::run(dy, c.argmax[l], c.pre[l], pool_);
    g.b[l] = ops::BiasGrad::run(dpre);
    g.w[l] = ops::Conv2dBackwardFilter::run(dpre, c.in[l], params_.w[l].shape(), conv_[l]);
    if (l > 0) dy = ops::Conv2dBackwardData::run(dpre, params_.w[l], c.in[l].shape(), conv_[l]);
  }
  return g;
}

Tensor Cnn3::jvp(const Cnn3Cache& c, const Cnn3Params& v) const {
  // R{pre} = W∗R{x} + V∗x + v_b; R{a} = R{pre}⊙1[pre > 0]; R{pool} = R{a}[argmax].
  Tensor ra;  // R{x} of layer l; the input's tangent is zero
  for (int l = 0; l < 3; ++l) {
    Tensor rpre = ops::Conv2d::run(c.in[l], v.w[l], &v.b[l], conv_[l]);
    if (l > 0) rpre = ops::Add::run(rpre, ops::Conv2d::run(ra, params_.w[l], nullptr, conv_[l]));
    const Tensor ract = ops::Mul::run(rpre, ops::ReluMask::run(c.pre[l]));
    ra = ops::MaxPool2dJvp::run(ract, c.argmax[l], pool_);
  }
  const Tensor rf = ra.reshape(c.features.shape());
  // R{z} = W4 R{f} + V4 f + v_b4
  return ops::Add::run(ops::Linear::run(rf, params_.w4, nullptr), ops::Linear::run(c.features, v.w4, &v.b4));
}

}  // namespace bench
}  // namespace newton
