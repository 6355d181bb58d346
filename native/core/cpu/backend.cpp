// The CPU backend's identity, kernel table and host transfers.
#include <cstring>
#include <string>

#include "../parallel.h"
#include "cpu_backend.h"
#include "onednn_conv.h"
#include "isa.h"

namespace newton {

CpuBackend::CpuBackend() {
  register_data_kernels(kernels_);
  register_elementwise_kernels(kernels_);
  register_reduce_kernels(kernels_);
  register_channel_kernels(kernels_);
  register_linalg_kernels(kernels_);
  register_conv_kernels(kernels_);
  register_pool_kernels(kernels_);
  register_loss_kernels(kernels_);
  register_random_kernels(kernels_);
  register_fused_kernels(kernels_);
}

std::string CpuBackend::description() const {
  const int threads = num_threads();
  std::string s = std::string("GEMM: ") + (gemm_impl() == GemmImpl::Blas ? blas_name() : "built-in");
  if (blas_available() && gemm_impl() != GemmImpl::Blas) s += std::string(" (") + blas_name() + " available)";
  if (!blas_available()) s += " (no BLAS in this build)";
  // The float32 convolutions (onednn_conv.h); float64 always runs im2col + GEMM.
  if (conv_impl() == ConvImpl::OneDnn) {
    s += "; convolutions: oneDNN " + onednn_version();
  } else {
    s += "; convolutions: im2col + GEMM";
    s += onednn_available() ? " (oneDNN " + onednn_version() + " available)" : " (no oneDNN)";
  }
  s += std::string(", vector code: ") + cpu_isa_name(cpu_isa());
  return s + ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

void CpuBackend::copy_from_host(Tensor& dst, const void* src) { std::memcpy(dst.raw(), src, dst.nbytes()); }

void CpuBackend::copy_to_host(void* dst, const Tensor& src) { std::memcpy(dst, src.raw(), src.nbytes()); }

}  // namespace newton
