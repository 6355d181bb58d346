// The fused passes on the CPU (ops/fused.h): one loop over the tensors per op, with the
// per-element formulas of core/fused_math.h (the CUDA kernels call the same functions).
//
// Note [fused reductions] (CPU)
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// The ops with scalar gradients write their element-wise outputs and sum their K scalar
// terms in the same pass: [0, n) is cut into blocked_sum's fixed blocks of kSumBlock items
// (blocked_sum.h); one task runs a block in index order, adding the terms of item i to the
// accumulator (i mod 4) of each sum (four independent chains of double additions, not one
// latency-bound chain), combined as (a0 + a1) + (a2 + a3); the block sums are then added in
// block order. The partition depends on n only, so the results are the same bits for every
// thread count.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "../fused_math.h"
#include "../ops/fused.h"
#include "blocked_sum.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

// Note [fused chunks]: the loops run over chunks of kChunk items whose every input is a plain
// array, so that the compiler vectorises them: an absent input (q ≡ 1, a null tangent ≡ 0) is
// a chunk of constants, an absent output a scratch chunk, and NEWTON_IVDEP says that the
// arrays do not overlap (they are distinct tensors the dispatcher allocated or was given).
constexpr int64_t kChunk = 512;
static_assert(kSumBlock % kChunk == 0 && kChunk % 4 == 0, "chunks tile the sum blocks, in steps of 4");

#if defined(__clang__)
#define NEWTON_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define NEWTON_IVDEP _Pragma("GCC ivdep")
#else
#define NEWTON_IVDEP
#endif

template <typename T>
struct ConstantChunks {
  T zeros[kChunk];
  T ones[kChunk];
  ConstantChunks() {
    std::fill(zeros, zeros + kChunk, T(0));
    std::fill(ones, ones + kChunk, T(1));
  }
};
template <typename T>
const ConstantChunks<T>& constants() {
  static const ConstantChunks<T> c;
  return c;
}

template <typename T>
const T* ptr(const Tensor* t) {
  return t != nullptr ? t->data<T>() : nullptr;
}
template <typename T>
T* ptr(Tensor* t) {
  return t != nullptr ? t->data<T>() : nullptr;
}
// The scalar held by a (1) tensor, or `fallback` when there is none.
template <typename T>
T scalar(const Tensor* t, T fallback) {
  return t != nullptr ? t->data<T>()[0] : fallback;
}
// The chunk at lo of an input, or the constant chunk `absent` (ones for q, zeros for a tangent).
template <typename T>
const T* in(const T* p, int64_t lo, const T* absent) {
  return p != nullptr ? p + lo : absent;
}
// The chunk at lo of an output, or `scratch` when nobody asked for it.
template <typename T>
T* out(T* p, int64_t lo, T* scratch) {
  return p != nullptr ? p + lo : scratch;
}

// body(lo, len) for the chunks [lo, lo + len) of [0, n), on the pool.
template <typename Body>
void for_each_chunk(int64_t n, const Body& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, std::max<int64_t>(1, kElementwiseGrain / kChunk), [&](int64_t begin, int64_t end) {
    with_cpu_isa([&] {
      for (int64_t c = begin; c < end; ++c) {
        const int64_t lo = c * kChunk;
        body(lo, std::min(kChunk, n - lo));
      }
    });
  });
}

// body(lo, len, terms) writes the element-wise outputs of the chunk [lo, lo + len) and the K
// terms of its items into terms[k][0, len); returns the K sums (note [fused reductions]).
template <int K, typename Body>
std::array<double, K> fused_pass(int64_t n, const Body& body) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<std::array<double, K>> partial(static_cast<std::size_t>(blocks));
  parallel_for(blocks, 4, [&](int64_t begin, int64_t end) {
    double terms[K][kChunk];
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kSumBlock, hi = std::min(n, lo + kSumBlock);
      double acc[K][4] = {};
      with_cpu_isa([&] {
        for (int64_t c = lo; c < hi; c += kChunk) {
          const int64_t len = std::min(kChunk, hi - c);
          body(c, len, terms);
          // item i = c + j goes to accumulator (i − lo) mod 4 = j mod 4 (c − lo is a multiple of 4)
          int64_t j = 0;
          for (; j + 4 <= len; j += 4) {
            for (int k = 0; k < K; ++k) {
              for (int r = 0; r < 4; ++r) acc[k][r] += terms[k][j + r];
            }
          }
          for (; j < len; ++j) {
            for (int k = 0; k < K; ++k) acc[k][j & 3] += terms[k][j];
          }
        }
      });
      for (int k = 0; k < K; ++k) partial[static_cast<std::size_t>(b)][k] = (acc[k][0] + acc[k][1]) + (acc[k][2] + acc[k][3]);
    }
  });
  std::array<double, K> total{};
  for (const auto& p : partial) {
    for (int k = 0; k < K; ++k) total[k] += p[k];
  }
  return total;
}

// --- A. Newton residual ---------------------------------------------------------------------

void newton_residual(Backend&, Tensor& y, const Tensor& a, const Tensor& b, const Tensor& p, const Tensor* q,
                     const Tensor& alpha, bool relu) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* o = y.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pp = p.data<T>();
    const T* pq = ptr<T>(q);
    const T al = alpha.data<T>()[0];
    for_each_chunk(y.numel(), [&](int64_t lo, int64_t len) {
      T* yo = o + lo;
      const T *ca = pa + lo, *cb = pb + lo, *cp = pp + lo, *cq = in(pq, lo, k.ones);
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) yo[j] = fused::newton_residual(ca[j], cb[j], cp[j], cq[j], al, relu);
    });
  });
}

void newton_residual_backward(Backend&, Tensor& g, Tensor& dp, Tensor* dq, Tensor& dalpha, const Tensor& dy, const Tensor& y,
                              const Tensor& p, const Tensor* q, const Tensor& alpha, bool relu) {
  dispatch_floating(g.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* og = g.data<T>();
    T* odp = dp.data<T>();
    T* odq = ptr<T>(dq);
    const T* pdy = dy.data<T>();
    const T* py = y.data<T>();
    const T* pp = p.data<T>();
    const T* pq = ptr<T>(q);
    const T al = alpha.data<T>()[0];
    const auto sums = fused_pass<1>(g.numel(), [&](int64_t lo, int64_t len, double (*terms)[kChunk]) {
      T scratch[kChunk];
      T *cg = og + lo, *cdp = odp + lo, *cdq = out(odq, lo, scratch);
      const T *cdy = pdy + lo, *cy = py + lo, *cp = pp + lo, *cq = in(pq, lo, k.ones);
      double* t0 = terms[0];
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::newton_residual_backward(cdy[j], cy[j], cp[j], cq[j], al, relu);
        cg[j] = r.g;
        cdp[j] = r.dp;
        cdq[j] = r.dq;
        t0[j] = r.dalpha;
      }
    });
    dalpha.data<T>()[0] = static_cast<T>(sums[0]);
  });
}

void newton_residual_jvp(Backend&, Tensor& ry, const Tensor& y, const Tensor* ra, const Tensor* rb, const Tensor& p,
                         const Tensor* q, const Tensor* rp, const Tensor* rq, const Tensor& alpha, const Tensor& valpha,
                         bool relu) {
  dispatch_floating(ry.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* o = ry.data<T>();
    const T* py = y.data<T>();
    const T* pra = ptr<T>(ra);
    const T* prb = ptr<T>(rb);
    const T* pp = p.data<T>();
    const T* pq = ptr<T>(q);
    const T* prp = ptr<T>(rp);
    const T* prq = ptr<T>(rq);
    const T al = alpha.data<T>()[0], val = valpha.data<T>()[0];
    for_each_chunk(ry.numel(), [&](int64_t lo, int64_t len) {
      T* co = o + lo;
      const T *cy = py + lo, *cra = in(pra, lo, k.zeros), *crb = in(prb, lo, k.zeros), *cp = pp + lo,
              *cq = in(pq, lo, k.ones), *crp = in(prp, lo, k.zeros), *crq = in(prq, lo, k.zeros);
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        co[j] = fused::newton_residual_jvp(cy[j], cra[j], crb[j], cp[j], cq[j], crp[j], crq[j], al, val, relu);
      }
    });
  });
}

void newton_residual_vjp_jvp(Backend&, Tensor& g, Tensor& rg, Tensor& dp, Tensor& rdp, Tensor* dq, Tensor* rdq,
                             Tensor& dalpha, Tensor& rdalpha, const Tensor& dy, const Tensor& rdy, const Tensor& y,
                             const Tensor& p, const Tensor* q, const Tensor* rp, const Tensor* rq, const Tensor& alpha,
                             const Tensor& valpha, bool relu) {
  dispatch_floating(g.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* og = g.data<T>();
    T* org = rg.data<T>();
    T* odp = dp.data<T>();
    T* ordp = rdp.data<T>();
    T* odq = ptr<T>(dq);
    T* ordq = ptr<T>(rdq);
    const T* pdy = dy.data<T>();
    const T* prdy = rdy.data<T>();
    const T* py = y.data<T>();
    const T* pp = p.data<T>();
    const T* pq = ptr<T>(q);
    const T* prp = ptr<T>(rp);
    const T* prq = ptr<T>(rq);
    const T al = alpha.data<T>()[0], val = valpha.data<T>()[0];
    const auto sums = fused_pass<2>(g.numel(), [&](int64_t lo, int64_t len, double (*terms)[kChunk]) {
      T scratch[2][kChunk];
      T *cg = og + lo, *crg = org + lo, *cdp = odp + lo, *crdp = ordp + lo, *cdq = out(odq, lo, scratch[0]),
        *crdq = out(ordq, lo, scratch[1]);
      const T *cdy = pdy + lo, *crdy = prdy + lo, *cy = py + lo, *cp = pp + lo, *cq = in(pq, lo, k.ones),
              *crp = in(prp, lo, k.zeros), *crq = in(prq, lo, k.zeros);
      double *t0 = terms[0], *t1 = terms[1];
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::newton_residual_vjp_jvp(cdy[j], crdy[j], cy[j], cp[j], cq[j], crp[j], crq[j], al, val, relu);
        cg[j] = r.g;
        crg[j] = r.rg;
        cdp[j] = r.dp;
        crdp[j] = r.rdp;
        cdq[j] = r.dq;
        crdq[j] = r.rdq;
        t0[j] = r.dalpha;
        t1[j] = r.rdalpha;
      }
    });
    dalpha.data<T>()[0] = static_cast<T>(sums[0]);
    rdalpha.data<T>()[0] = static_cast<T>(sums[1]);
  });
}

// --- B. CG block ------------------------------------------------------------------------------

void cg_net_update(Backend&, Tensor& y1, Tensor& d, const Tensor& y, const Tensor& g1, const Tensor& g2, const Tensor& g3,
                   const Tensor* dprev, const Tensor& alpha, const Tensor* beta) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* oy1 = y1.data<T>();
    T* od = d.data<T>();
    const T* py = y.data<T>();
    const T* pg1 = g1.data<T>();
    const T* pg2 = g2.data<T>();
    const T* pg3 = g3.data<T>();
    const T* pprev = ptr<T>(dprev);
    const bool has_prev = pprev != nullptr;
    const T al = alpha.data<T>()[0], be = scalar<T>(beta, T(0));
    for_each_chunk(y.numel(), [&](int64_t lo, int64_t len) {
      T *cy1 = oy1 + lo, *cd = od + lo;
      const T *cy = py + lo, *cg1 = pg1 + lo, *cg2 = pg2 + lo, *cg3 = pg3 + lo, *cprev = in(pprev, lo, k.zeros);
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::cg_net_update(cy[j], cg1[j], cg2[j], cg3[j], cprev[j], al, be, has_prev);
        cy1[j] = r.y1;
        cd[j] = r.d;
      }
    });
  });
}

void cg_net_update_backward(Backend&, Tensor& dy, Tensor& dg, Tensor* ddprev, Tensor& dalpha, Tensor* dbeta, const Tensor& dy1,
                            const Tensor* dd, const Tensor& d, const Tensor* dprev, const Tensor& alpha, const Tensor* beta) {
  dispatch_floating(dy.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* ody = dy.data<T>();
    T* odg = dg.data<T>();
    T* oddprev = ptr<T>(ddprev);
    const T* pdy1 = dy1.data<T>();
    const T* pdd = ptr<T>(dd);
    const T* pd = d.data<T>();
    const T* pprev = ptr<T>(dprev);
    const T al = alpha.data<T>()[0], be = scalar<T>(beta, T(0));
    const auto sums = fused_pass<2>(dy.numel(), [&](int64_t lo, int64_t len, double (*terms)[kChunk]) {
      T scratch[kChunk];
      T *cdy = ody + lo, *cdg = odg + lo, *cddprev = out(oddprev, lo, scratch);
      const T *cdy1 = pdy1 + lo, *cdd = in(pdd, lo, k.zeros), *cd = pd + lo, *cprev = in(pprev, lo, k.zeros);
      double *t0 = terms[0], *t1 = terms[1];
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::cg_net_update_backward(cdy1[j], cdd[j], cd[j], cprev[j], al, be);
        cdy[j] = r.dy;
        cdg[j] = r.dg;
        cddprev[j] = r.ddprev;
        t0[j] = r.dalpha;
        t1[j] = r.dbeta;
      }
    });
    dalpha.data<T>()[0] = static_cast<T>(sums[0]);
    if (dbeta != nullptr) dbeta->data<T>()[0] = static_cast<T>(sums[1]);
  });
}

void cg_net_update_jvp(Backend&, Tensor& ry1, Tensor& rd, const Tensor& d, const Tensor* dprev, const Tensor* ry,
                       const Tensor* rg1, const Tensor* rg2, const Tensor* rg3, const Tensor* rdprev, const Tensor& alpha,
                       const Tensor* beta, const Tensor& valpha, const Tensor* vbeta) {
  dispatch_floating(d.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* ory1 = ry1.data<T>();
    T* ord = rd.data<T>();
    const T* pd = d.data<T>();
    const T* pprev = ptr<T>(dprev);
    const T* pry = ptr<T>(ry);
    const T* prg1 = ptr<T>(rg1);
    const T* prg2 = ptr<T>(rg2);
    const T* prg3 = ptr<T>(rg3);
    const T* prprev = ptr<T>(rdprev);
    const bool has_prev = pprev != nullptr;
    const T al = alpha.data<T>()[0], be = scalar<T>(beta, T(0));
    const T val = valpha.data<T>()[0], vbe = scalar<T>(vbeta, T(0));
    for_each_chunk(d.numel(), [&](int64_t lo, int64_t len) {
      T *cry1 = ory1 + lo, *crd = ord + lo;
      const T *cd = pd + lo, *cprev = in(pprev, lo, k.zeros), *cry = in(pry, lo, k.zeros), *crg1 = in(prg1, lo, k.zeros),
              *crg2 = in(prg2, lo, k.zeros), *crg3 = in(prg3, lo, k.zeros), *crprev = in(prprev, lo, k.zeros);
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::cg_net_update_jvp(cd[j], cprev[j], cry[j], crg1[j], crg2[j], crg3[j], crprev[j], al, be, val, vbe,
                                                has_prev);
        cry1[j] = r.ry1;
        crd[j] = r.rd;
      }
    });
  });
}

void cg_net_update_vjp_jvp(Backend&, Tensor& dy, Tensor& rdy, Tensor& dg, Tensor& rdg, Tensor* ddprev, Tensor* rddprev,
                           Tensor& dalpha, Tensor& rdalpha, Tensor* dbeta, Tensor* rdbeta, const Tensor& dy1, const Tensor* dd,
                           const Tensor& rdy1, const Tensor* rdd, const Tensor& d, const Tensor& rd, const Tensor* dprev,
                           const Tensor* rdprev, const Tensor& alpha, const Tensor* beta, const Tensor& valpha,
                           const Tensor* vbeta) {
  dispatch_floating(dy.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const ConstantChunks<T>& k = constants<T>();
    T* ody = dy.data<T>();
    T* ordy = rdy.data<T>();
    T* odg = dg.data<T>();
    T* ordg = rdg.data<T>();
    T* oddprev = ptr<T>(ddprev);
    T* orddprev = ptr<T>(rddprev);
    const T* pdy1 = dy1.data<T>();
    const T* pdd = ptr<T>(dd);
    const T* prdy1 = rdy1.data<T>();
    const T* prdd = ptr<T>(rdd);
    const T* pd = d.data<T>();
    const T* prd = rd.data<T>();
    const T* pprev = ptr<T>(dprev);
    const T* prprev = ptr<T>(rdprev);
    const T al = alpha.data<T>()[0], be = scalar<T>(beta, T(0));
    const T val = valpha.data<T>()[0], vbe = scalar<T>(vbeta, T(0));
    const auto sums = fused_pass<4>(dy.numel(), [&](int64_t lo, int64_t len, double (*terms)[kChunk]) {
      T scratch[2][kChunk];
      T *cdy = ody + lo, *crdy = ordy + lo, *cdg = odg + lo, *crdg = ordg + lo, *cddprev = out(oddprev, lo, scratch[0]),
        *crddprev = out(orddprev, lo, scratch[1]);
      const T *cdy1 = pdy1 + lo, *cdd = in(pdd, lo, k.zeros), *crdy1 = prdy1 + lo, *crdd = in(prdd, lo, k.zeros), *cd = pd + lo,
              *crd = prd + lo, *cprev = in(pprev, lo, k.zeros), *crprev = in(prprev, lo, k.zeros);
      double *t0 = terms[0], *t1 = terms[1], *t2 = terms[2], *t3 = terms[3];
      NEWTON_IVDEP
      for (int64_t j = 0; j < len; ++j) {
        const auto r = fused::cg_net_update_vjp_jvp(cdy1[j], cdd[j], crdy1[j], crdd[j], cd[j], crd[j], cprev[j], crprev[j], al, be,
                                                    val, vbe);
        cdy[j] = r.dy;
        crdy[j] = r.rdy;
        cdg[j] = r.dg;
        crdg[j] = r.rdg;
        cddprev[j] = r.ddprev;
        crddprev[j] = r.rddprev;
        t0[j] = r.dalpha;
        t1[j] = r.rdalpha;
        t2[j] = r.dbeta;
        t3[j] = r.rdbeta;
      }
    });
    dalpha.data<T>()[0] = static_cast<T>(sums[0]);
    rdalpha.data<T>()[0] = static_cast<T>(sums[1]);
    if (dbeta != nullptr) {
      dbeta->data<T>()[0] = static_cast<T>(sums[2]);
      rdbeta->data<T>()[0] = static_cast<T>(sums[3]);
    }
  });
}

}  // namespace

void register_fused_kernels(KernelTable& table) {
  table.add<ops::NewtonResidual>(kFloatingTypes, newton_residual);
  table.add<ops::NewtonResidualBackward>(kFloatingTypes, newton_residual_backward);
  table.add<ops::NewtonResidualJvp>(kFloatingTypes, newton_residual_jvp);
  table.add<ops::NewtonResidualVjpJvp>(kFloatingTypes, newton_residual_vjp_jvp);
  table.add<ops::CgNetUpdate>(kFloatingTypes, cg_net_update);
  table.add<ops::CgNetUpdateBackward>(kFloatingTypes, cg_net_update_backward);
  table.add<ops::CgNetUpdateJvp>(kFloatingTypes, cg_net_update_jvp);
  table.add<ops::CgNetUpdateVjpJvp>(kFloatingTypes, cg_net_update_vjp_jvp);
}

}  // namespace newton
