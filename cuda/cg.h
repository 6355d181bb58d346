// The fused vector update of the conjugate-gradient solver (issue "The CUDA backend",
// item 5), for the Newton method's CG loop (DESIGN.md, "Training methods").
//
// One CG step needs, after q = (G + λI)p and α = rᵀr / pᵀq:
//     x ← x + α·p,   r ← r − α·q,   ρ = rᵀr (of the new r, for β and the stopping test).
// On the GPU these are one kernel: each element of x and r is read and written once and
// its r² is added to a deterministic double reduction (note [deterministic reduction] in
// reduce.cuh) in the same pass. The returned ρ is the only host synchronisation of the
// update (α comes from the host: the caller computes it from two dot products).
//
// Arithmetic per element, in float32 without FMA contraction so that it equals two CPU
// axpy calls bit for bit: a = (float)α; x = x + a·p; r = r − a·q; ρ += (double)r².
//
// How the Newton solver reaches it: Backend::cg_update (backend.h, op "cgUpdate" of op.h)
// is overridden by CudaBackend::cg_update (cuda_backend.h), which calls cg_update() below;
// the core's ops::cg_update checks the arguments first.
#pragma once

#include "core/tensor.h"

namespace newton {
namespace cuda {

class CudaBackend;

// x, r, p, q: float32 tensors of one shape on `backend`'s device; x and r are updated in
// place (they must not overlap each other or p, q). Returns rᵀr of the updated r in double.
// Throws ShapeError / ArgumentTypeError on mismatched arguments, newton::Error on CUDA errors.
double cg_update(CudaBackend& backend, Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha);

}  // namespace cuda
}  // namespace newton
