// Fused element-wise passes of two network blocks (note [op declarations] in op.h): each op
// is one pass over its tensors, with the per-element formulas of core/fused_math.h shared by
// the CPU and the CUDA kernels (note [fused rounding order] there), so both backends give
// the same bits for the element-wise outputs.
//
//  A. Newton-ResNet's residual (eq. 3, its element-wise part): y = φ(s), s = a + b + α·p⊙q,
//     φ = relu or the identity (options.relu); q may be null (q ≡ 1).
//  B. Newton-CGNet's CG block (Algorithm 2, one block): d = −(y + g1 + g2 + g3) + β·dprev,
//     y1 = y + α·d; dprev and β are null at t = 0 (then no β term). (Not the CG solver's
//     in-place update `cgUpdate` of ops/reduce.h: hence the name cgNetUpdate.)
//
// Each comes with its gradient (Backward), its R-operator (Jvp) and the R-operator of its
// gradient (VjpJvp). The scalars α, β and their tangents are (1) tensors on the tensors'
// device, read by the kernels there: no value goes back to the host, so nothing waits for a
// GPU. The scalar gradients (dα, dβ, …) are (1) tensors too: double sums in a fixed order
// (the same bits for any thread count and on every run), rounded once to the dtype.
#pragma once

#include <optional>

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_FUSED_OPS(X)                                                                               \
  X(NewtonResidual) X(NewtonResidualBackward) X(NewtonResidualJvp) X(NewtonResidualVjpJvp) X(CgNetUpdate) \
      X(CgNetUpdateBackward) X(CgNetUpdateJvp) X(CgNetUpdateVjpJvp)

// The attribute of the Newton residual ops: φ = relu (true) or the identity (false).
struct ResidualOptions {
  bool relu = false;
};

namespace detail {
// t: the dtype, device and shape of `first`.
inline void fused_like(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  check::like(op, arg, t, first_arg, first);
  check::same_shape(op, arg, t, first_arg, first);
}
inline void fused_like(const char* op, const char* arg, const Tensor* t, const char* first_arg, const Tensor& first) {
  if (t != nullptr) fused_like(op, arg, *t, first_arg, first);
}
// t: a (1) tensor of `first`'s dtype and device (a scalar that stays on the device).
inline void fused_scalar(const char* op, const char* arg, const Tensor& t, const char* first_arg, const Tensor& first) {
  check::like(op, arg, t, first_arg, first);
  if (t.ndim() != 1 || t.dim(0) != 1) {
    fail<ShapeError>(op, ": ", arg, " must have shape (1) (a scalar on the tensors' device), got shape ", fmt(t.shape()));
  }
}
inline void fused_scalar(const char* op, const char* arg, const Tensor* t, const char* first_arg, const Tensor& first) {
  if (t != nullptr) fused_scalar(op, arg, *t, first_arg, first);
}
// `dependent` may be given only with `base` ("rq needs q").
inline void fused_needs(const char* op, const char* dependent, const Tensor* d, const char* base, const Tensor* b,
                        const char* why) {
  if (d != nullptr && b == nullptr) fail<ValueError>(op, ": ", dependent, " was given but ", base, " is null (", why, ")");
}
// dprev and beta come together (both null at t = 0).
inline void fused_prev_pair(const char* op, const char* prev_arg, const Tensor* prev, const Tensor* beta) {
  if ((prev == nullptr) != (beta == nullptr)) {
    fail<ValueError>(op, ": ", prev_arg, " and beta must both be tensors or both be null (null at t = 0: no β term), got ",
                     prev ? "a tensor" : "null", " and ", beta ? "a tensor" : "null");
  }
}
}  // namespace detail

// --- A. Newton residual ----------------------------------------------------------------------

// y = φ((a + b) + α·(p·q)): a, b, p, q one shape; q may be null (q ≡ 1); alpha (1).
struct NewtonResidual {
  static constexpr OpInfo info{"newtonResidual", Pass::Forward, "", "",
                               "Newton-ResNet's residual y = φ(a + b + α·p⊙q), φ = relu or the identity, in one pass: a, b, p, q "
                               "one shape (q null: q ≡ 1), alpha (1) on the device"};
  static constexpr std::array<const char*, 6> args{"a", "b", "p", "q", "alpha", "options"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& a, const Tensor& b, const Tensor& p, const Tensor* q,
                      const Tensor& alpha, bool relu);
  static Tensor run(const Tensor& a, const Tensor& b, const Tensor& p, const Tensor* q, const Tensor& alpha,
                    const ResidualOptions& o) {
    const char* op = info.name;
    check::floating(op, "a", a);
    detail::fused_like(op, "b", b, "a", a);
    detail::fused_like(op, "p", p, "a", a);
    detail::fused_like(op, "q", q, "a", a);
    detail::fused_scalar(op, "alpha", alpha, "a", a);
    backend_running<NewtonResidual>(op, a);
    Tensor y = allocate_like(op, a, a.shape());
    if (a.numel() > 0) launch<NewtonResidual>(a, y, a, b, p, q, alpha, o.relu);
    return y;
  }
};

// The gradient of newtonResidual for dy: g = φ′⊙dy (the gradient of a and of b), dp, dq, dα.
struct NewtonResidualGrads {
  Tensor g, dp;
  std::optional<Tensor> dq;  // null without q
  Tensor dalpha;
  static constexpr std::array<const char*, 4> names{"g", "dp", "dq", "dalpha"};
  auto fields() const { return std::tie(g, dp, dq, dalpha); }
};

struct NewtonResidualBackward {
  static constexpr OpInfo info{"newtonResidualBackward", Pass::Vjp, "newtonResidual", "all",
                               "The gradient of newtonResidual from its output y: g = φ′⊙dy (da = db = g), dp = α·g⊙q, "
                               "dq = α·g⊙p (null without q), dalpha = Σ g⊙p⊙q (1), in one pass"};
  static constexpr std::array<const char*, 6> args{"dy", "y", "p", "q", "alpha", "options"};
  using Kernel = void(Backend&, Tensor& g, Tensor& dp, Tensor* dq, Tensor& dalpha, const Tensor& dy, const Tensor& y,
                      const Tensor& p, const Tensor* q, const Tensor& alpha, bool relu);
  static NewtonResidualGrads run(const Tensor& dy, const Tensor& y, const Tensor& p, const Tensor* q, const Tensor& alpha,
                                 const ResidualOptions& o) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    detail::fused_like(op, "y", y, "dy", dy);
    detail::fused_like(op, "p", p, "dy", dy);
    detail::fused_like(op, "q", q, "dy", dy);
    detail::fused_scalar(op, "alpha", alpha, "dy", dy);
    backend_running<NewtonResidualBackward>(op, dy);
    NewtonResidualGrads r;
    r.g = allocate_like(op, dy, dy.shape());
    r.dp = allocate_like(op, dy, dy.shape());
    if (q != nullptr) r.dq = allocate_like(op, dy, dy.shape());
    r.dalpha = allocate_like(op, dy, {1});
    launch<NewtonResidualBackward>(dy, r.g, r.dp, r.dq ? &*r.dq : nullptr, r.dalpha, dy, y, p, q, alpha, o.relu);
    return r;
  }
};

// ry = φ′⊙(ra + rb + vα·p⊙q + α·(rp⊙q + p⊙rq)); null tangents are zeros.
struct NewtonResidualJvp {
  static constexpr OpInfo info{"newtonResidualJvp", Pass::Jvp, "newtonResidual", "all",
                               "The R-operator of newtonResidual from its output y: ry = φ′⊙(ra + rb + vα·p⊙q + α·(rp⊙q + p⊙rq)); "
                               "null tangents are zeros, rq needs q; valpha (1)"};
  static constexpr std::array<const char*, 10> args{"y", "ra", "rb", "p", "q", "rp", "rq", "alpha", "valpha", "options"};
  using Kernel = void(Backend&, Tensor& ry, const Tensor& y, const Tensor* ra, const Tensor* rb, const Tensor& p,
                      const Tensor* q, const Tensor* rp, const Tensor* rq, const Tensor& alpha, const Tensor& valpha, bool relu);
  static Tensor run(const Tensor& y, const Tensor* ra, const Tensor* rb, const Tensor& p, const Tensor* q, const Tensor* rp,
                    const Tensor* rq, const Tensor& alpha, const Tensor& valpha, const ResidualOptions& o) {
    const char* op = info.name;
    check::floating(op, "y", y);
    detail::fused_like(op, "ra", ra, "y", y);
    detail::fused_like(op, "rb", rb, "y", y);
    detail::fused_like(op, "p", p, "y", y);
    detail::fused_like(op, "q", q, "y", y);
    detail::fused_like(op, "rp", rp, "y", y);
    detail::fused_like(op, "rq", rq, "y", y);
    detail::fused_needs(op, "rq", rq, "q", q, "q null means q ≡ 1, which has no tangent");
    detail::fused_scalar(op, "alpha", alpha, "y", y);
    detail::fused_scalar(op, "valpha", valpha, "y", y);
    backend_running<NewtonResidualJvp>(op, y);
    Tensor ry = allocate_like(op, y, y.shape());
    if (y.numel() > 0) launch<NewtonResidualJvp>(y, ry, y, ra, rb, p, q, rp, rq, alpha, valpha, o.relu);
    return ry;
  }
};

// newtonResidualBackward's outputs and their R-operators.
struct NewtonResidualVjpJvpResult {
  Tensor g, rg, dp, rdp;
  std::optional<Tensor> dq, rdq;  // null without q
  Tensor dalpha, rdalpha;
  static constexpr std::array<const char*, 8> names{"g", "rg", "dp", "rdp", "dq", "rdq", "dalpha", "rdalpha"};
  auto fields() const { return std::tie(g, rg, dp, rdp, dq, rdq, dalpha, rdalpha); }
};

struct NewtonResidualVjpJvp {
  static constexpr OpInfo info{"newtonResidualVjpJvp", Pass::Jvp, "newtonResidualBackward", "all",
                               "newtonResidualBackward and its R-operator along rdy, rp, rq (null: zeros) and valpha, in one pass: "
                               "rg = φ′⊙rdy, rdp = vα·g⊙q + α·(rg⊙q + g⊙rq), rdq, rdalpha = Σ(rg⊙p⊙q + g⊙rp⊙q + g⊙p⊙rq)"};
  static constexpr std::array<const char*, 10> args{"dy", "rdy", "y", "p", "q", "rp", "rq", "alpha", "valpha", "options"};
  using Kernel = void(Backend&, Tensor& g, Tensor& rg, Tensor& dp, Tensor& rdp, Tensor* dq, Tensor* rdq, Tensor& dalpha,
                      Tensor& rdalpha, const Tensor& dy, const Tensor& rdy, const Tensor& y, const Tensor& p, const Tensor* q,
                      const Tensor* rp, const Tensor* rq, const Tensor& alpha, const Tensor& valpha, bool relu);
  static NewtonResidualVjpJvpResult run(const Tensor& dy, const Tensor& rdy, const Tensor& y, const Tensor& p, const Tensor* q,
                                        const Tensor* rp, const Tensor* rq, const Tensor& alpha, const Tensor& valpha,
                                        const ResidualOptions& o) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    detail::fused_like(op, "rdy", rdy, "dy", dy);
    detail::fused_like(op, "y", y, "dy", dy);
    detail::fused_like(op, "p", p, "dy", dy);
    detail::fused_like(op, "q", q, "dy", dy);
    detail::fused_like(op, "rp", rp, "dy", dy);
    detail::fused_like(op, "rq", rq, "dy", dy);
    detail::fused_needs(op, "rq", rq, "q", q, "q null means q ≡ 1, which has no tangent");
    detail::fused_scalar(op, "alpha", alpha, "dy", dy);
    detail::fused_scalar(op, "valpha", valpha, "dy", dy);
    backend_running<NewtonResidualVjpJvp>(op, dy);
    NewtonResidualVjpJvpResult r;
    r.g = allocate_like(op, dy, dy.shape());
    r.rg = allocate_like(op, dy, dy.shape());
    r.dp = allocate_like(op, dy, dy.shape());
    r.rdp = allocate_like(op, dy, dy.shape());
    if (q != nullptr) {
      r.dq = allocate_like(op, dy, dy.shape());
      r.rdq = allocate_like(op, dy, dy.shape());
    }
    r.dalpha = allocate_like(op, dy, {1});
    r.rdalpha = allocate_like(op, dy, {1});
    launch<NewtonResidualVjpJvp>(dy, r.g, r.rg, r.dp, r.rdp, r.dq ? &*r.dq : nullptr, r.rdq ? &*r.rdq : nullptr, r.dalpha,
                                 r.rdalpha, dy, rdy, y, p, q, rp, rq, alpha, valpha, o.relu);
    return r;
  }
};

// --- B. CG block -----------------------------------------------------------------------------

struct CgNetStep {
  Tensor y1, d;
  static constexpr std::array<const char*, 2> names{"y1", "d"};
  auto fields() const { return std::tie(y1, d); }
};

// d = −(y + g1 + g2 + g3) + β·dprev, y1 = y + α·d, both in one pass.
struct CgNetUpdate {
  static constexpr OpInfo info{"cgNetUpdate", Pass::Forward, "", "",
                               "Newton-CGNet's CG block in one pass: d = −(y + g1 + g2 + g3) + β·dprev, y1 = y + α·d; dprev and "
                               "beta both null at t = 0 (no β term); alpha, beta (1) on the device"};
  static constexpr std::array<const char*, 7> args{"y", "g1", "g2", "g3", "dprev", "alpha", "beta"};
  using Kernel = void(Backend&, Tensor& y1, Tensor& d, const Tensor& y, const Tensor& g1, const Tensor& g2, const Tensor& g3,
                      const Tensor* dprev, const Tensor& alpha, const Tensor* beta);
  static CgNetStep run(const Tensor& y, const Tensor& g1, const Tensor& g2, const Tensor& g3, const Tensor* dprev,
                       const Tensor& alpha, const Tensor* beta) {
    const char* op = info.name;
    check::floating(op, "y", y);
    detail::fused_like(op, "g1", g1, "y", y);
    detail::fused_like(op, "g2", g2, "y", y);
    detail::fused_like(op, "g3", g3, "y", y);
    detail::fused_like(op, "dprev", dprev, "y", y);
    detail::fused_scalar(op, "alpha", alpha, "y", y);
    detail::fused_scalar(op, "beta", beta, "y", y);
    detail::fused_prev_pair(op, "dprev", dprev, beta);
    backend_running<CgNetUpdate>(op, y);
    CgNetStep r;
    r.y1 = allocate_like(op, y, y.shape());
    r.d = allocate_like(op, y, y.shape());
    if (y.numel() > 0) launch<CgNetUpdate>(y, r.y1, r.d, y, g1, g2, g3, dprev, alpha, beta);
    return r;
  }
};

// The gradient of cgNetUpdate for the cotangents dy1 of y1 and dd of d (null: zeros).
struct CgNetGrads {
  Tensor dy, dg;
  std::optional<Tensor> ddprev;  // null without dprev
  Tensor dalpha;
  std::optional<Tensor> dbeta;  // null without dprev
  static constexpr std::array<const char*, 5> names{"dy", "dg", "ddprev", "dalpha", "dbeta"};
  auto fields() const { return std::tie(dy, dg, ddprev, dalpha, dbeta); }
};

struct CgNetUpdateBackward {
  static constexpr OpInfo info{"cgNetUpdateBackward", Pass::Vjp, "cgNetUpdate", "all",
                               "The gradient of cgNetUpdate for dy1 (of y1) and dd (of d, null: zeros), in one pass with two sums: "
                               "T = dd + α·dy1, dy = dy1 − T, dg = −T (each of g1, g2, g3), ddprev = β·T, dalpha = Σ dy1⊙d, "
                               "dbeta = Σ T⊙dprev"};
  static constexpr std::array<const char*, 6> args{"dy1", "dd", "d", "dprev", "alpha", "beta"};
  using Kernel = void(Backend&, Tensor& dy, Tensor& dg, Tensor* ddprev, Tensor& dalpha, Tensor* dbeta, const Tensor& dy1,
                      const Tensor* dd, const Tensor& d, const Tensor* dprev, const Tensor& alpha, const Tensor* beta);
  static CgNetGrads run(const Tensor& dy1, const Tensor* dd, const Tensor& d, const Tensor* dprev, const Tensor& alpha,
                        const Tensor* beta) {
    const char* op = info.name;
    check::floating(op, "dy1", dy1);
    detail::fused_like(op, "dd", dd, "dy1", dy1);
    detail::fused_like(op, "d", d, "dy1", dy1);
    detail::fused_like(op, "dprev", dprev, "dy1", dy1);
    detail::fused_scalar(op, "alpha", alpha, "dy1", dy1);
    detail::fused_scalar(op, "beta", beta, "dy1", dy1);
    detail::fused_prev_pair(op, "dprev", dprev, beta);
    backend_running<CgNetUpdateBackward>(op, dy1);
    CgNetGrads r;
    r.dy = allocate_like(op, dy1, dy1.shape());
    r.dg = allocate_like(op, dy1, dy1.shape());
    if (dprev != nullptr) r.ddprev = allocate_like(op, dy1, dy1.shape());
    r.dalpha = allocate_like(op, dy1, {1});
    if (dprev != nullptr) r.dbeta = allocate_like(op, dy1, {1});
    launch<CgNetUpdateBackward>(dy1, r.dy, r.dg, r.ddprev ? &*r.ddprev : nullptr, r.dalpha, r.dbeta ? &*r.dbeta : nullptr, dy1,
                                dd, d, dprev, alpha, beta);
    return r;
  }
};

struct CgNetTangent {
  Tensor ry1, rd;
  static constexpr std::array<const char*, 2> names{"ry1", "rd"};
  auto fields() const { return std::tie(ry1, rd); }
};

// rd = −(ry + rg1 + rg2 + rg3) + vβ·dprev + β·rdprev, ry1 = ry + vα·d + α·rd.
struct CgNetUpdateJvp {
  static constexpr OpInfo info{"cgNetUpdateJvp", Pass::Jvp, "cgNetUpdate", "all",
                               "The R-operator of cgNetUpdate from its output d: rd = −(ry + rg1 + rg2 + rg3) + vβ·dprev + β·rdprev, "
                               "ry1 = ry + vα·d + α·rd; null tangents are zeros; rdprev and vbeta need dprev"};
  static constexpr std::array<const char*, 11> args{"d",     "dprev", "ry",   "rg1",    "rg2",  "rg3",
                                                    "rdprev", "alpha", "beta", "valpha", "vbeta"};
  using Kernel = void(Backend&, Tensor& ry1, Tensor& rd, const Tensor& d, const Tensor* dprev, const Tensor* ry,
                      const Tensor* rg1, const Tensor* rg2, const Tensor* rg3, const Tensor* rdprev, const Tensor& alpha,
                      const Tensor* beta, const Tensor& valpha, const Tensor* vbeta);
  static CgNetTangent run(const Tensor& d, const Tensor* dprev, const Tensor* ry, const Tensor* rg1, const Tensor* rg2,
                          const Tensor* rg3, const Tensor* rdprev, const Tensor& alpha, const Tensor* beta, const Tensor& valpha,
                          const Tensor* vbeta) {
    const char* op = info.name;
    check::floating(op, "d", d);
    detail::fused_like(op, "dprev", dprev, "d", d);
    detail::fused_like(op, "ry", ry, "d", d);
    detail::fused_like(op, "rg1", rg1, "d", d);
    detail::fused_like(op, "rg2", rg2, "d", d);
    detail::fused_like(op, "rg3", rg3, "d", d);
    detail::fused_like(op, "rdprev", rdprev, "d", d);
    detail::fused_scalar(op, "alpha", alpha, "d", d);
    detail::fused_scalar(op, "beta", beta, "d", d);
    detail::fused_scalar(op, "valpha", valpha, "d", d);
    detail::fused_scalar(op, "vbeta", vbeta, "d", d);
    detail::fused_prev_pair(op, "dprev", dprev, beta);
    detail::fused_needs(op, "rdprev", rdprev, "dprev", dprev, "no β term at t = 0");
    detail::fused_needs(op, "vbeta", vbeta, "dprev", dprev, "no β term at t = 0");
    backend_running<CgNetUpdateJvp>(op, d);
    CgNetTangent r;
    r.ry1 = allocate_like(op, d, d.shape());
    r.rd = allocate_like(op, d, d.shape());
    if (d.numel() > 0) launch<CgNetUpdateJvp>(d, r.ry1, r.rd, d, dprev, ry, rg1, rg2, rg3, rdprev, alpha, beta, valpha, vbeta);
    return r;
  }
};

// cgNetUpdateBackward's outputs and their R-operators.
struct CgNetVjpJvpResult {
  Tensor dy, rdy, dg, rdg;
  std::optional<Tensor> ddprev, rddprev;  // null without dprev
  Tensor dalpha, rdalpha;
  std::optional<Tensor> dbeta, rdbeta;  // null without dprev
  static constexpr std::array<const char*, 10> names{"dy",     "rdy",     "dg",    "rdg",    "ddprev",
                                                     "rddprev", "dalpha", "rdalpha", "dbeta", "rdbeta"};
  auto fields() const { return std::tie(dy, rdy, dg, rdg, ddprev, rddprev, dalpha, rdalpha, dbeta, rdbeta); }
};

struct CgNetUpdateVjpJvp {
  static constexpr OpInfo info{"cgNetUpdateVjpJvp", Pass::Jvp, "cgNetUpdateBackward", "all",
                               "cgNetUpdateBackward and its R-operator along rdy1, rdd (null: zeros), rd, rdprev (null: zeros), "
                               "valpha and vbeta (null: zero), in one pass with four sums: RT = rdd + vα·dy1 + α·rdy1, rdy = rdy1 − RT, "
                               "rdg = −RT, rddprev = vβ·T + β·RT, rdalpha = Σ(rdy1⊙d + dy1⊙rd), rdbeta = Σ(RT⊙dprev + T⊙rdprev)"};
  static constexpr std::array<const char*, 12> args{"dy1",    "dd",    "rdy1", "rdd",    "d",    "rd",
                                                    "dprev", "rdprev", "alpha", "beta", "valpha", "vbeta"};
  using Kernel = void(Backend&, Tensor& dy, Tensor& rdy, Tensor& dg, Tensor& rdg, Tensor* ddprev, Tensor* rddprev,
                      Tensor& dalpha, Tensor& rdalpha, Tensor* dbeta, Tensor* rdbeta, const Tensor& dy1, const Tensor* dd,
                      const Tensor& rdy1, const Tensor* rdd, const Tensor& d, const Tensor& rd, const Tensor* dprev,
                      const Tensor* rdprev, const Tensor& alpha, const Tensor* beta, const Tensor& valpha, const Tensor* vbeta);
  static CgNetVjpJvpResult run(const Tensor& dy1, const Tensor* dd, const Tensor& rdy1, const Tensor* rdd, const Tensor& d,
                               const Tensor& rd, const Tensor* dprev, const Tensor* rdprev, const Tensor& alpha, const Tensor* beta,
                               const Tensor& valpha, const Tensor* vbeta) {
    const char* op = info.name;
    check::floating(op, "dy1", dy1);
    detail::fused_like(op, "dd", dd, "dy1", dy1);
    detail::fused_like(op, "rdy1", rdy1, "dy1", dy1);
    detail::fused_like(op, "rdd", rdd, "dy1", dy1);
    detail::fused_like(op, "d", d, "dy1", dy1);
    detail::fused_like(op, "rd", rd, "dy1", dy1);
    detail::fused_like(op, "dprev", dprev, "dy1", dy1);
    detail::fused_like(op, "rdprev", rdprev, "dy1", dy1);
    detail::fused_scalar(op, "alpha", alpha, "dy1", dy1);
    detail::fused_scalar(op, "beta", beta, "dy1", dy1);
    detail::fused_scalar(op, "valpha", valpha, "dy1", dy1);
    detail::fused_scalar(op, "vbeta", vbeta, "dy1", dy1);
    detail::fused_prev_pair(op, "dprev", dprev, beta);
    detail::fused_needs(op, "rdprev", rdprev, "dprev", dprev, "no β term at t = 0");
    detail::fused_needs(op, "vbeta", vbeta, "dprev", dprev, "no β term at t = 0");
    backend_running<CgNetUpdateVjpJvp>(op, dy1);
    CgNetVjpJvpResult r;
    r.dy = allocate_like(op, dy1, dy1.shape());
    r.rdy = allocate_like(op, dy1, dy1.shape());
    r.dg = allocate_like(op, dy1, dy1.shape());
    r.rdg = allocate_like(op, dy1, dy1.shape());
    if (dprev != nullptr) {
      r.ddprev = allocate_like(op, dy1, dy1.shape());
      r.rddprev = allocate_like(op, dy1, dy1.shape());
    }
    r.dalpha = allocate_like(op, dy1, {1});
    r.rdalpha = allocate_like(op, dy1, {1});
    if (dprev != nullptr) {
      r.dbeta = allocate_like(op, dy1, {1});
      r.rdbeta = allocate_like(op, dy1, {1});
    }
    auto opt = [](std::optional<Tensor>& t) { return t ? &*t : nullptr; };
    launch<CgNetUpdateVjpJvp>(dy1, r.dy, r.rdy, r.dg, r.rdg, opt(r.ddprev), opt(r.rddprev), r.dalpha, r.rdalpha, opt(r.dbeta),
                              opt(r.rdbeta), dy1, dd, rdy1, rdd, d, rd, dprev, rdprev, alpha, beta, valpha, vbeta);
    return r;
  }
};

}  // namespace ops
}  // namespace newton
