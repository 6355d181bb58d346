// The fused passes on the GPU (native/core/ops/fused.h), float32: one kernel over the tensors
// per op, with the per-element formulas of native/core/fused_math.h that the CPU kernels call
// too (round-to-nearest intrinsics, no FMA contraction), so the element-wise outputs are the
// CPU's bits. The scalars α, β, vα, vβ are read from device memory by every thread: nothing
// is copied to the host and nothing waits.
//
// Note [fused reductions] (CUDA)
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// The ops with scalar gradients (dα, dβ and their R-operators: K = 1, 2 or 4 sums) write
// their element-wise outputs and add their terms in the same kernel, then a second kernel of
// one block adds the block sums and writes each total, rounded to float, into its (1) output
// tensor. The partition is reduce.cuh's (note [deterministic reduction]): reduce_blocks(n)
// blocks of kReduceThreads threads, a grid-stride order per thread, a fixed shuffle tree and
// a fixed sum over warps, so the results are the same bits on every run and every GPU; they
// differ from the CPU's (another fixed order) by rounding in double only. The block sums go
// through scratch memory from the caching allocator (as batchNormStats' mean), reused only by
// work queued after these kernels on the same stream (note [caching allocator]).
#include <cstdint>

#include "core/fused_math.h"
#include "core/ops/fused.h"
#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace newton {
namespace cuda {

namespace {

const float* ptr(const Tensor* t) { return t != nullptr ? t->data<float>() : nullptr; }
float* ptr(Tensor* t) { return t != nullptr ? t->data<float>() : nullptr; }

// p[i], or `fallback` (1 for an absent q, 0 for an absent tangent) when p is absent.
__device__ __forceinline__ float at(const float* p, int64_t i, float fallback) { return p != nullptr ? p[i] : fallback; }
// The scalar at p (a (1) tensor on the device), or `fallback` when there is none.
__device__ __forceinline__ float scalar_at(const float* p, float fallback) { return p != nullptr ? *p : fallback; }

// The K terms of one item.
template <int K>
struct Terms {
  double v[K];
};

// Where the K sums go: a (1) float tensor each, or null for a sum nobody asked for.
template <int K>
struct SumOutputs {
  float* out[K];
};

// The K sums of v over the block, valid in thread 0 (block_sum of reduce.cuh for K values at
// once, in the same fixed tree). Every thread of the block calls it, once per kernel.
template <int K>
__device__ __forceinline__ void block_sums(double (&v)[K]) {
  __shared__ double warp_sums[K][kReduceThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int k = 0; k < K; ++k) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], offset);
  }
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) warp_sums[k][warp] = v[k];
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      v[k] = lane < kReduceThreads / 32 ? warp_sums[k][lane] : 0.0;
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], offset);
    }
  }
}

// Pass 1: body(i) writes item i's element-wise outputs and returns its K terms;
// partial[k·gridDim.x + blockIdx.x] = this block's share of sum k.
template <int K, typename Body>
__global__ void __launch_bounds__(kReduceThreads) fused_partial_kernel(int64_t n, Body body, double* partial) {
  double acc[K];
#pragma unroll
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kReduceThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x; i < n; i += stride) {
    const Terms<K> t = body(i);
#pragma unroll
    for (int k = 0; k < K; ++k) acc[k] += t.v[k];
  }
  block_sums<K>(acc);
  if (threadIdx.x == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) partial[k * gridDim.x + blockIdx.x] = acc[k];
  }
}

// Pass 2, one block: sum k = Σ partial[k·count, (k + 1)·count), rounded to float into out[k].
template <int K>
__global__ void __launch_bounds__(kReduceThreads) fused_final_kernel(const double* partial, int count, SumOutputs<K> sums) {
  double acc[K];
#pragma unroll
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  for (int i = threadIdx.x; i < count; i += kReduceThreads) {
#pragma unroll
    for (int k = 0; k < K; ++k) acc[k] += partial[k * count + i];
  }
  block_sums<K>(acc);
  if (threadIdx.x == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (sums.out[k] != nullptr) *sums.out[k] = static_cast<float>(acc[k]);
    }
  }
}

// Runs body over [0, n) and writes the K sums (note [fused reductions]). Queued only.
template <int K, typename Body>
void fused_reduce(CudaBackend& cuda, const char* op, int64_t n, Body body, SumOutputs<K> sums) {
  cuda.set_device();
  const int blocks = reduce_blocks(n);
  Allocator& allocator = cuda.caching_allocator();
  const std::size_t bytes = static_cast<std::size_t>(K) * static_cast<std::size_t>(blocks) * sizeof(double);
  double* partial = static_cast<double*>(allocator.allocate(bytes));
  try {
    fused_partial_kernel<K><<<blocks, kReduceThreads, 0, cuda.stream()>>>(n, body, partial);
    NEWTON_CUDA_CHECK_LAUNCH(op);
    fused_final_kernel<K><<<1, kReduceThreads, 0, cuda.stream()>>>(partial, blocks, sums);
    NEWTON_CUDA_CHECK_LAUNCH(op);
  } catch (...) {
    allocator.deallocate(partial, bytes);
    throw;
  }
  allocator.deallocate(partial, bytes);
}

// --- A. Newton residual ---------------------------------------------------------------------

void newton_residual(Backend& backend, Tensor& y, const Tensor& a, const Tensor& b, const Tensor& p, const Tensor* q,
                     const Tensor& alpha, bool relu) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pp = p.data<float>();
  const float* pq = ptr(q);
  const float* pal = alpha.data<float>();
  launch_for_each(ops::NewtonResidual::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) {
    o[i] = fused::newton_residual(pa[i], pb[i], pp[i], at(pq, i, 1.0f), *pal, relu);
  });
}

void newton_residual_backward(Backend& backend, Tensor& g, Tensor& dp, Tensor* dq, Tensor& dalpha, const Tensor& dy,
                              const Tensor& y, const Tensor& p, const Tensor* q, const Tensor& alpha, bool relu) {
  float* og = g.data<float>();
  float* odp = dp.data<float>();
  float* odq = ptr(dq);
  const float* pdy = dy.data<float>();
  const float* py = y.data<float>();
  const float* pp = p.data<float>();
  const float* pq = ptr(q);
  const float* pal = alpha.data<float>();
  fused_reduce<1>(
      as_cuda(backend), ops::NewtonResidualBackward::info.name, g.numel(),
      [=] __device__(int64_t i) {
        const auto r = fused::newton_residual_backward(pdy[i], py[i], pp[i], at(pq, i, 1.0f), *pal, relu);
        og[i] = r.g;
        odp[i] = r.dp;
        if (odq != nullptr) odq[i] = r.dq;
        return Terms<1>{{r.dalpha}};
      },
      SumOutputs<1>{{dalpha.data<float>()}});
}

void newton_residual_jvp(Backend& backend, Tensor& ry, const Tensor& y, const Tensor* ra, const Tensor* rb, const Tensor& p,
                         const Tensor* q, const Tensor* rp, const Tensor* rq, const Tensor& alpha, const Tensor& valpha,
                         bool relu) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = ry.data<float>();
  const float* py = y.data<float>();
  const float* pra = ptr(ra);
  const float* prb = ptr(rb);
  const float* pp = p.data<float>();
  const float* pq = ptr(q);
  const float* prp = ptr(rp);
  const float* prq = ptr(rq);
  const float* pal = alpha.data<float>();
  const float* pval = valpha.data<float>();
  launch_for_each(ops::NewtonResidualJvp::info.name, cuda.stream(), ry.numel(), [=] __device__(int64_t i) {
    o[i] = fused::newton_residual_jvp(py[i], at(pra, i, 0.0f), at(prb, i, 0.0f), pp[i], at(pq, i, 1.0f), at(prp, i, 0.0f),
                                      at(prq, i, 0.0f), *pal, *pval, relu);
  });
}

void newton_residual_vjp_jvp(Backend& backend, Tensor& g, Tensor& rg, Tensor& dp, Tensor& rdp, Tensor* dq, Tensor* rdq,
                             Tensor& dalpha, Tensor& rdalpha, const Tensor& dy, const Tensor& rdy, const Tensor& y,
                             const Tensor& p, const Tensor* q, const Tensor* rp, const Tensor* rq, const Tensor& alpha,
                             const Tensor& valpha, bool relu) {
  float* og = g.data<float>();
  float* org = rg.data<float>();
  float* odp = dp.data<float>();
  float* ordp = rdp.data<float>();
  float* odq = ptr(dq);
  float* ordq = ptr(rdq);
  const float* pdy = dy.data<float>();
  const float* prdy = rdy.data<float>();
  const float* py = y.data<float>();
  const float* pp = p.data<float>();
  const float* pq = ptr(q);
  const float* prp = ptr(rp);
  const float* prq = ptr(rq);
  const float* pal = alpha.data<float>();
  const float* pval = valpha.data<float>();
  fused_reduce<2>(
      as_cuda(backend), ops::NewtonResidualVjpJvp::info.name, g.numel(),
      [=] __device__(int64_t i) {
        const auto r = fused::newton_residual_vjp_jvp(pdy[i], prdy[i], py[i], pp[i], at(pq, i, 1.0f), at(prp, i, 0.0f),
                                                      at(prq, i, 0.0f), *pal, *pval, relu);
        og[i] = r.g;
        org[i] = r.rg;
        odp[i] = r.dp;
        ordp[i] = r.rdp;
        if (odq != nullptr) {
          odq[i] = r.dq;
          ordq[i] = r.rdq;
        }
        return Terms<2>{{r.dalpha, r.rdalpha}};
      },
      SumOutputs<2>{{dalpha.data<float>(), rdalpha.data<float>()}});
}

// --- B. CG block ------------------------------------------------------------------------------

void cg_net_update(Backend& backend, Tensor& y1, Tensor& d, const Tensor& y, const Tensor& g1, const Tensor& g2,
                   const Tensor& g3, const Tensor* dprev, const Tensor& alpha, const Tensor* beta) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* oy1 = y1.data<float>();
  float* od = d.data<float>();
  const float* py = y.data<float>();
  const float* pg1 = g1.data<float>();
  const float* pg2 = g2.data<float>();
  const float* pg3 = g3.data<float>();
  const float* pprev = ptr(dprev);
  const float* pal = alpha.data<float>();
  const float* pbe = ptr(beta);
  launch_for_each(ops::CgNetUpdate::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) {
    const auto r = fused::cg_net_update(py[i], pg1[i], pg2[i], pg3[i], at(pprev, i, 0.0f), *pal, scalar_at(pbe, 0.0f),
                                        pprev != nullptr);
    oy1[i] = r.y1;
    od[i] = r.d;
  });
}

void cg_net_update_backward(Backend& backend, Tensor& dy, Tensor& dg, Tensor* ddprev, Tensor& dalpha, Tensor* dbeta,
                            const Tensor& dy1, const Tensor* dd, const Tensor& d, const Tensor* dprev, const Tensor& alpha,
                            const Tensor* beta) {
  float* ody = dy.data<float>();
  float* odg = dg.data<float>();
  float* oddprev = ptr(ddprev);
  const float* pdy1 = dy1.data<float>();
  const float* pdd = ptr(dd);
  const float* pd = d.data<float>();
  const float* pprev = ptr(dprev);
  const float* pal = alpha.data<float>();
  const float* pbe = ptr(beta);
  fused_reduce<2>(
      as_cuda(backend), ops::CgNetUpdateBackward::info.name, dy.numel(),
      [=] __device__(int64_t i) {
        const auto r =
            fused::cg_net_update_backward(pdy1[i], at(pdd, i, 0.0f), pd[i], at(pprev, i, 0.0f), *pal, scalar_at(pbe, 0.0f));
        ody[i] = r.dy;
        odg[i] = r.dg;
        if (oddprev != nullptr) oddprev[i] = r.ddprev;
        return Terms<2>{{r.dalpha, r.dbeta}};
      },
      SumOutputs<2>{{dalpha.data<float>(), ptr(dbeta)}});
}

void cg_net_update_jvp(Backend& backend, Tensor& ry1, Tensor& rd, const Tensor& d, const Tensor* dprev, const Tensor* ry,
                       const Tensor* rg1, const Tensor* rg2, const Tensor* rg3, const Tensor* rdprev, const Tensor& alpha,
                       const Tensor* beta, const Tensor& valpha, const Tensor* vbeta) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* ory1 = ry1.data<float>();
  float* ord = rd.data<float>();
  const float* pd = d.data<float>();
  const float* pprev = ptr(dprev);
  const float* pry = ptr(ry);
  const float* prg1 = ptr(rg1);
  const float* prg2 = ptr(rg2);
  const float* prg3 = ptr(rg3);
  const float* prprev = ptr(rdprev);
  const float* pal = alpha.data<float>();
  const float* pbe = ptr(beta);
  const float* pval = valpha.data<float>();
  const float* pvbe = ptr(vbeta);
  launch_for_each(ops::CgNetUpdateJvp::info.name, cuda.stream(), d.numel(), [=] __device__(int64_t i) {
    const auto r = fused::cg_net_update_jvp(pd[i], at(pprev, i, 0.0f), at(pry, i, 0.0f), at(prg1, i, 0.0f), at(prg2, i, 0.0f),
                                            at(prg3, i, 0.0f), at(prprev, i, 0.0f), *pal, scalar_at(pbe, 0.0f), *pval,
                                            scalar_at(pvbe, 0.0f), pprev != nullptr);
    ory1[i] = r.ry1;
    ord[i] = r.rd;
  });
}

void cg_net_update_vjp_jvp(Backend& backend, Tensor& dy, Tensor& rdy, Tensor& dg, Tensor& rdg, Tensor* ddprev,
                           Tensor* rddprev, Tensor& dalpha, Tensor& rdalpha, Tensor* dbeta, Tensor* rdbeta, const Tensor& dy1,
                           const Tensor* dd, const Tensor& rdy1, const Tensor* rdd, const Tensor& d, const Tensor& rd,
                           const Tensor* dprev, const Tensor* rdprev, const Tensor& alpha, const Tensor* beta,
                           const Tensor& valpha, const Tensor* vbeta) {
  float* ody = dy.data<float>();
  float* ordy = rdy.data<float>();
  float* odg = dg.data<float>();
  float* ordg = rdg.data<float>();
  float* oddprev = ptr(ddprev);
  float* orddprev = ptr(rddprev);
  const float* pdy1 = dy1.data<float>();
  const float* pdd = ptr(dd);
  const float* prdy1 = rdy1.data<float>();
  const float* prdd = ptr(rdd);
  const float* pd = d.data<float>();
  const float* prd = rd.data<float>();
  const float* pprev = ptr(dprev);
  const float* prprev = ptr(rdprev);
  const float* pal = alpha.data<float>();
  const float* pbe = ptr(beta);
  const float* pval = valpha.data<float>();
  const float* pvbe = ptr(vbeta);
  fused_reduce<4>(
      as_cuda(backend), ops::CgNetUpdateVjpJvp::info.name, dy.numel(),
      [=] __device__(int64_t i) {
        const auto r = fused::cg_net_update_vjp_jvp(pdy1[i], at(pdd, i, 0.0f), prdy1[i], at(prdd, i, 0.0f), pd[i], prd[i],
                                                    at(pprev, i, 0.0f), at(prprev, i, 0.0f), *pal, scalar_at(pbe, 0.0f), *pval,
                                                    scalar_at(pvbe, 0.0f));
        ody[i] = r.dy;
        ordy[i] = r.rdy;
        odg[i] = r.dg;
        ordg[i] = r.rdg;
        if (oddprev != nullptr) {
          oddprev[i] = r.ddprev;
          orddprev[i] = r.rddprev;
        }
        return Terms<4>{{r.dalpha, r.rdalpha, r.dbeta, r.rdbeta}};
      },
      SumOutputs<4>{{dalpha.data<float>(), rdalpha.data<float>(), ptr(dbeta), ptr(rdbeta)}});
}

}  // namespace

void register_fused_kernels(KernelTable& table) {
  table.add<ops::NewtonResidual>(kFloat32Only, newton_residual);
  table.add<ops::NewtonResidualBackward>(kFloat32Only, newton_residual_backward);
  table.add<ops::NewtonResidualJvp>(kFloat32Only, newton_residual_jvp);
  table.add<ops::NewtonResidualVjpJvp>(kFloat32Only, newton_residual_vjp_jvp);
  table.add<ops::CgNetUpdate>(kFloat32Only, cg_net_update);
  table.add<ops::CgNetUpdateBackward>(kFloat32Only, cg_net_update_backward);
  table.add<ops::CgNetUpdateJvp>(kFloat32Only, cg_net_update_jvp);
  table.add<ops::CgNetUpdateVjpJvp>(kFloat32Only, cg_net_update_vjp_jvp);
}

}  // namespace cuda
}  // namespace newton
