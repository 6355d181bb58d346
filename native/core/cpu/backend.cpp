// The CPU backend's identity, capabilities and host transfers.
#include <cstring>
#include <string>

#include "../parallel.h"
#include "cpu_backend.h"

namespace newton {

std::string CpuBackend::description() const {
  const int threads = num_threads();
  std::string s = std::string("GEMM: ") + (gemm_impl() == GemmImpl::Blas ? blas_name() : "built-in");
  if (blas_available() && gemm_impl() != GemmImpl::Blas) s += std::string(" (") + blas_name() + " available)";
  if (!blas_available()) s += " (no BLAS in this build)";
  return s + ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

bool CpuBackend::supports(Op op, DType dtype) const {
  if (is_floating(dtype)) return true;
  // int32 tensors hold indices: they can be made, copied and converted, nothing else.
  return op == Op::Fill || op == Op::Copy || op == Op::Cast;
}

void CpuBackend::copy_from_host(Tensor& dst, const void* src) { std::memcpy(dst.raw(), src, dst.nbytes()); }

void CpuBackend::copy_to_host(void* dst, const Tensor& src) { std::memcpy(dst, src.raw(), src.nbytes()); }

}  // namespace newton
