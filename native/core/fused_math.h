// The per-element formulas of the fused ops (native/core/ops/fused.h), written once for the
// CPU and the CUDA kernels (hostdevice.h): Newton-ResNet's residual y = φ(a + b + α·p⊙q) and
// Newton-CGNet's CG block d = β·dprev − (y + g1 + g2 + g3), y1 = y + α·d, each with its
// gradient (vjp), its R-operator (jvp) and the R-operator of its gradient (vjpJvp).
//
// Note [fused rounding order]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Every formula is a fixed sequence of IEEE operations in the tensors' dtype T, each rounded
// once (rn_add, rn_sub, rn_mul below: plain operators on the host, which is compiled without
// contraction, and the round-to-nearest intrinsics on a GPU, which nvcc never fuses into an
// FMA), so the CPU and the GPU give the same bits and the references of test/cases/fused.ts
// emulate them with one Math.fround per operation. The order is the one the comments write,
// left to right, products before the sums that use them:
//     s = (a + b) + α·(p·q)                       (not (α·p)·q)
// An absent q is q ≡ 1 (p·1 = p exactly, so the formulas need no second form); an absent
// tangent or cotangent is a zero operand (t + 0 = t, except that −0 + 0 = +0). The terms of
// the scalar gradients (dα, dβ and their R-operators) are formed in double from the rounded
// element values, (double(a)·double(b))·double(c), and summed in double by the kernels in a
// fixed order (note [fused reductions] in cpu/fused.cpp and cuda/fused.cu).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hostdevice.h"
#include "scalar_math.h"

namespace newton {
namespace fused {

// --- operations rounded once, never contracted --------------------------------------------

NEWTON_HD float rn_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NEWTON_HD float rn_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NEWTON_HD float rn_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NEWTON_HD double rn_add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
NEWTON_HD double rn_sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
NEWTON_HD double rn_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// A term of a scalar gradient, in double: double(a)·double(b) (exact for float32 values).
template <typename T>
NEWTON_HD double term(T a, T b) {
  return rn_mul(static_cast<double>(a), static_cast<double>(b));
}
// (double(a)·double(b))·double(c).
template <typename T>
NEWTON_HD double term(T a, T b, T c) {
  return rn_mul(rn_mul(static_cast<double>(a), static_cast<double>(b)), static_cast<double>(c));
}

// φ′(y)·v from φ's output y: φ = relu gives v·1[y > 0] (0 at the tie y = 0 and at NaN, the
// convention of reluBackward; y > 0 exactly where relu's input s > 0); φ = identity gives v.
template <typename T>
NEWTON_HD T dphi(bool relu, T y, T v) {
#if defined(__CUDA_ARCH__)
  return relu ? math::relu_backward(v, y) : v;
#else
  // The same value without a branch on the sign of y, which a CPU mispredicts on half of the
  // elements of real activations (a scalar float select is a branch on x86-64): v's bits,
  // cleared to +0 (relu_backward's T(0)) where relu && !(y > 0).
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(U) == sizeof(T), "float32 or float64");
  U bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits &= U(0) - (static_cast<U>(!relu) | static_cast<U>(y > T(0)));  // | not ||: no control flow
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
#endif
}

// --- A. Newton residual: y = φ(s), s = a + b + α·p⊙q ---------------------------------------

// y = φ((a + b) + α·(p·q)); relu keeps NaN (math::relu).
template <typename T>
NEWTON_HD T newton_residual(T a, T b, T p, T q, T alpha, bool relu) {
  const T s = rn_add(rn_add(a, b), rn_mul(alpha, rn_mul(p, q)));
  return relu ? math::relu(s) : s;
}

// The gradient for dy: G = φ′⊙dy (= ∂/∂a = ∂/∂b), dp = α·(G·q), dq = α·(G·p) and the term
// G·p·q of dα = Σ G⊙p⊙q.
template <typename T>
struct ResidualGrads {
  T g, dp, dq;
  double dalpha;
};
template <typename T>
NEWTON_HD ResidualGrads<T> newton_residual_backward(T dy, T y, T p, T q, T alpha, bool relu) {
  const T g = dphi(relu, y, dy);
  return {g, rn_mul(alpha, rn_mul(g, q)), rn_mul(alpha, rn_mul(g, p)), term(g, p, q)};
}

// The R-operator: ry = φ′⊙(((ra + rb) + vα·(p·q)) + α·(rp·q + p·rq)).
template <typename T>
NEWTON_HD T newton_residual_jvp(T y, T ra, T rb, T p, T q, T rp, T rq, T alpha, T valpha, bool relu) {
  const T linear = rn_add(rn_add(ra, rb), rn_mul(valpha, rn_mul(p, q)));
  const T bilinear = rn_add(rn_mul(rp, q), rn_mul(p, rq));
  return dphi(relu, y, rn_add(linear, rn_mul(alpha, bilinear)));
}

// The gradient and its R-operator along (rdy, rp, rq, vα) (φ″ = 0 almost everywhere for
// relu, 0 for the identity, so R{φ′} = 0):
//   G = φ′⊙dy                    RG = φ′⊙rdy
//   dp = α·(G·q)                 rdp = vα·(G·q) + α·(RG·q + G·rq)
//   dq = α·(G·p)                 rdq = vα·(G·p) + α·(RG·p + G·rp)
//   dα = Σ G·p·q                 rdα = Σ ((RG·p·q + G·rp·q) + G·p·rq)
template <typename T>
struct ResidualVjpJvp {
  T g, rg, dp, rdp, dq, rdq;
  double dalpha, rdalpha;
};
template <typename T>
NEWTON_HD ResidualVjpJvp<T> newton_residual_vjp_jvp(T dy, T rdy, T y, T p, T q, T rp, T rq, T alpha, T valpha, bool relu) {
  const T g = dphi(relu, y, dy);
  const T rg = dphi(relu, y, rdy);
  const T gq = rn_mul(g, q);
  const T gp = rn_mul(g, p);
  ResidualVjpJvp<T> r;
  r.g = g;
  r.rg = rg;
  r.dp = rn_mul(alpha, gq);
  r.dq = rn_mul(alpha, gp);
  r.rdp = rn_add(rn_mul(valpha, gq), rn_mul(alpha, rn_add(rn_mul(rg, q), rn_mul(g, rq))));
  r.rdq = rn_add(rn_mul(valpha, gp), rn_mul(alpha, rn_add(rn_mul(rg, p), rn_mul(g, rp))));
  r.dalpha = term(g, p, q);
  r.rdalpha = rn_add(rn_add(term(rg, p, q), term(g, rp, q)), term(g, p, rq));
  return r;
}

// --- B. CG block: d = −(y + g1 + g2 + g3) + β·dprev, y1 = y + α·d -------------------------

// With dprev: d = β·dprev − (((y + g1) + g2) + g3) (the same number as −(…) + β·dprev);
// without: d = −(((y + g1) + g2) + g3). y1 = y + α·d.
template <typename T>
struct CgStep {
  T y1, d;
};
template <typename T>
NEWTON_HD CgStep<T> cg_net_update(T y, T g1, T g2, T g3, T dprev, T alpha, T beta, bool has_prev) {
  const T sum = rn_add(rn_add(rn_add(y, g1), g2), g3);
  const T d = has_prev ? rn_sub(rn_mul(beta, dprev), sum) : -sum;
  return {rn_add(y, rn_mul(alpha, d)), d};
}

// The gradient for the cotangents dy1 (of y1) and dd (of d): T = dd + α·dy1 (the cotangent
// of d through both outputs), dy = dy1 − T, dg = −T (for each of g1, g2, g3), ddprev = β·T,
// and the terms dy1·d of dα and T·dprev of dβ.
template <typename T>
struct CgGrads {
  T dy, dg, ddprev;
  double dalpha, dbeta;
};
template <typename T>
NEWTON_HD CgGrads<T> cg_net_update_backward(T dy1, T dd, T d, T dprev, T alpha, T beta) {
  const T t = rn_add(dd, rn_mul(alpha, dy1));
  return {rn_sub(dy1, t), -t, rn_mul(beta, t), term(dy1, d), term(t, dprev)};
}

// The R-operator: rd = (vβ·dprev + β·rdprev) − (((ry + rg1) + rg2) + rg3) with dprev, else
// −(((ry + rg1) + rg2) + rg3); ry1 = (ry + vα·d) + α·rd.
template <typename T>
struct CgTangent {
  T ry1, rd;
};
template <typename T>
NEWTON_HD CgTangent<T> cg_net_update_jvp(T d, T dprev, T ry, T rg1, T rg2, T rg3, T rdprev, T alpha, T beta, T valpha,
                                         T vbeta, bool has_prev) {
  const T rsum = rn_add(rn_add(rn_add(ry, rg1), rg2), rg3);
  const T rd = has_prev ? rn_sub(rn_add(rn_mul(vbeta, dprev), rn_mul(beta, rdprev)), rsum) : -rsum;
  return {rn_add(rn_add(ry, rn_mul(valpha, d)), rn_mul(alpha, rd)), rd};
}

// The gradient and its R-operator along (rdy1, rdd, rd, rdprev, vα, vβ):
//   T = dd + α·dy1                  RT = (rdd + vα·dy1) + α·rdy1
//   dy = dy1 − T                    rdy = rdy1 − RT
//   dg = −T                         rdg = −RT
//   ddprev = β·T                    rddprev = vβ·T + β·RT
//   dα = Σ dy1·d                    rdα = Σ (rdy1·d + dy1·rd)
//   dβ = Σ T·dprev                  rdβ = Σ (RT·dprev + T·rdprev)
template <typename T>
struct CgVjpJvp {
  T dy, rdy, dg, rdg, ddprev, rddprev;
  double dalpha, rdalpha, dbeta, rdbeta;
};
template <typename T>
NEWTON_HD CgVjpJvp<T> cg_net_update_vjp_jvp(T dy1, T dd, T rdy1, T rdd, T d, T rd, T dprev, T rdprev, T alpha, T beta,
                                            T valpha, T vbeta) {
  const T t = rn_add(dd, rn_mul(alpha, dy1));
  const T rt = rn_add(rn_add(rdd, rn_mul(valpha, dy1)), rn_mul(alpha, rdy1));
  CgVjpJvp<T> r;
  r.dy = rn_sub(dy1, t);
  r.rdy = rn_sub(rdy1, rt);
  r.dg = -t;
  r.rdg = -rt;
  r.ddprev = rn_mul(beta, t);
  r.rddprev = rn_add(rn_mul(vbeta, t), rn_mul(beta, rt));
  r.dalpha = term(dy1, d);
  r.rdalpha = rn_add(term(rdy1, d), term(dy1, rd));
  r.dbeta = term(t, dprev);
  r.rdbeta = rn_add(term(rt, dprev), term(t, rdprev));
  return r;
}

}  // namespace fused
}  // namespace newton
