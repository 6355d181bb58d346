// Squared loss and softmax cross-entropy on the CPU: values, gradients and the product
// with the loss Hessian B (README.md, "The Newton method").
// Rows are independent, so they run in parallel; per-row arithmetic is in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../ops/loss.h"
#include "../parallel.h"
#include "../scalar_math.h"
#include "blocked_sum.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

// Row-wise max and log Σ exp(z − max) of one row of K logits.
template <typename T>
void log_sum_exp(const T* z, int64_t k, double* max_out, double* lse_out) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < k; ++j) m = std::max(m, static_cast<double>(z[j]));
  if (std::isnan(m) || std::isinf(m)) {
    // NaN or ±inf logits: fall back to plain arithmetic, which propagates NaN.
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(z[j]));
    *max_out = 0;
    *lse_out = std::log(s);
    for (int64_t j = 0; j < k; ++j) {
      if (std::isnan(static_cast<double>(z[j]))) *lse_out = static_cast<double>(z[j]);
    }
    return;
  }
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(z[j]) - m);
  *max_out = m;
  *lse_out = std::log(s);
}

// p = softmax of one row, in double.
template <typename T>
void softmax_row(const T* z, int64_t k, double* p) {
  double m, lse;
  log_sum_exp(z, k, &m, &lse);
  for (int64_t j = 0; j < k; ++j) p[j] = std::exp(static_cast<double>(z[j]) - m - lse);
}

// Runs body(row, p) for every row of z: (N, K), p holding that row's softmax in double.
template <typename T, typename Body>
void for_each_softmax_row(const Tensor& z, Body body) {
  const int64_t n = z.dim(0), k = z.dim(1);
  const T* logits = z.data<T>();
  parallel_for(n, std::max<int64_t>(1, 4096 / k), [&](int64_t begin, int64_t end) {
    std::vector<double> p(static_cast<std::size_t>(k));
    for (int64_t r = begin; r < end; ++r) {
      softmax_row(logits + r * k, k, p.data());
      body(r, p.data());
    }
  });
}

double squared_loss(Backend&, const Tensor& z, const Tensor& y) {
  double result = 0;
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* a = z.data<T>();
    const T* b = y.data<T>();
    result = blocked_sum(z.numel(), [a, b](int64_t i) {
      const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      return d * d;
    });
  });
  return result;
}

void squared_loss_grad(Backend&, Tensor& dz, const Tensor& z, const Tensor& y) {
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = dz.data<T>();
    const T* a = z.data<T>();
    const T* b = y.data<T>();
    parallel_for(z.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      with_cpu_isa([&] {
        for (int64_t i = begin; i < end; ++i) out[i] = math::squared_loss_grad(a[i], b[i]);
      });
    });
  });
}

void softmax(Backend&, Tensor& p, const Tensor& z) {
  const int64_t k = z.dim(1);
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = p.data<T>();
    for_each_softmax_row<T>(z, [&](int64_t r, const double* row) {
      for (int64_t j = 0; j < k; ++j) out[r * k + j] = static_cast<T>(row[j]);
    });
  });
}

// −Σ_i Σ_k y_ik log p_ik, with log p = z − max − log Σ exp(z − max) for stability.
double softmax_cross_entropy(Backend&, const Tensor& z, const Tensor& y) {
  const int64_t n = z.dim(0), k = z.dim(1);
  std::vector<double> per_row(static_cast<std::size_t>(n));
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* logits = z.data<T>();
    const T* target = y.data<T>();
    parallel_for(n, std::max<int64_t>(1, 4096 / k), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        double m, lse;
        log_sum_exp(logits + r * k, k, &m, &lse);
        double loss = 0;
        for (int64_t j = 0; j < k; ++j) {
          const double t = static_cast<double>(target[r * k + j]);
          if (t != 0.0 || std::isnan(t)) loss -= t * (static_cast<double>(logits[r * k + j]) - m - lse);
        }
        per_row[static_cast<std::size_t>(r)] = loss;
      }
    });
  });
  double total = 0;
  for (double v : per_row) total += v;  // in row order: independent of the thread count
  return total;
}

void softmax_cross_entropy_grad(Backend&, Tensor& dz, const Tensor& z, const Tensor& y) {
  const int64_t k = z.dim(1);
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = dz.data<T>();
    const T* target = y.data<T>();
    for_each_softmax_row<T>(z, [&](int64_t r, const double* p) {
      for (int64_t j = 0; j < k; ++j) {
        out[r * k + j] = static_cast<T>(p[j] - static_cast<double>(target[r * k + j]));
      }
    });
  });
}

// out_i = p_i ⊙ u_i − p_i (p_iᵀ u_i) for each row i.
void softmax_cross_entropy_hvp(Backend&, Tensor& out, const Tensor& z, const Tensor& u) {
  const int64_t k = z.dim(1);
  dispatch_floating(z.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* v = u.data<T>();
    for_each_softmax_row<T>(z, [&](int64_t r, const double* p) {
      double pu = 0;
      for (int64_t j = 0; j < k; ++j) pu += p[j] * static_cast<double>(v[r * k + j]);
      for (int64_t j = 0; j < k; ++j) {
        o[r * k + j] = static_cast<T>(p[j] * (static_cast<double>(v[r * k + j]) - pu));
      }
    });
  });
}

}  // namespace

void register_loss_kernels(KernelTable& table) {
  table.add<ops::SquaredLoss>(kFloatingTypes, squared_loss);
  table.add<ops::SquaredLossGradient>(kFloatingTypes, squared_loss_grad);
  table.add<ops::Softmax>(kFloatingTypes, softmax);
  table.add<ops::SoftmaxCrossEntropy>(kFloatingTypes, softmax_cross_entropy);
  table.add<ops::SoftmaxCrossEntropyGradient>(kFloatingTypes, softmax_cross_entropy_grad);
  table.add<ops::SoftmaxCrossEntropyHessianProduct>(kFloatingTypes, softmax_cross_entropy_hvp);
}

}  // namespace newton
