// Plain-data attributes of the ops that have them. They are also the keys of per-shape
// caches (the CUDA backend's cuDNN algorithm choice), so keep them comparable.
#pragma once

#include <cstdint>

namespace newton {

struct GemmParams {
  bool trans_a = false;  // use Aᵀ
  bool trans_b = false;  // use Bᵀ
  double alpha = 1.0;
  double beta = 0.0;     // C = alpha·op(A)·op(B) + beta·C
};

// 2-D convolution (cross-correlation, as in every CNN library), NCHW, zero padding.
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  bool operator==(const Conv2dParams& o) const {
    return stride_h == o.stride_h && stride_w == o.stride_w && pad_h == o.pad_h && pad_w == o.pad_w;
  }
};

// 2-D pooling window. Max pooling treats padding as -infinity (it is never chosen);
// average pooling divides by the full window area, padding included, so it is one fixed
// linear map (its backward is its exact adjoint).
struct Pool2dParams {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;
  bool operator==(const Pool2dParams& o) const {
    return kernel_h == o.kernel_h && kernel_w == o.kernel_w && stride_h == o.stride_h &&
           stride_w == o.stride_w && pad_h == o.pad_h && pad_w == o.pad_w;
  }
};

}  // namespace newton
