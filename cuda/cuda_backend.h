// The CUDA backend: one CudaBackend per device, built into libnewton_cuda.so and created
// by newton_backend_create (entry.cu) when the addon loads it (registry.h).
//
// Note [cuda execution model]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// - float32 only (plus fill/copy/cast of int32 index tensors): supports() refuses the rest,
//   so the dispatcher reports "<op>: float64 is not supported on cuda:0".
// - One stream per device. Every kernel, cuBLAS and cuDNN call of the device is queued on
//   it, so ops run asynchronously in program order and the caching allocator may reuse a
//   freed block at once (note [caching allocator] in allocator.h).
// - The host waits only where it needs a value: copy_to_host, scalar results (sum, dot,
//   norms, losses, the CG update's rᵀr) and synchronize(). Errors raised inside a kernel
//   therefore surface at the next of those calls.
// - Reductions are deterministic: a fixed partition of the range into blocks that depends
//   only on the element count, double accumulation, block sums added in a fixed order
//   (reduce.cuh). The same input gives the same bits on every run and every GPU model.
// - Arithmetic that the CPU backend does in float32 uses the same formula
//   (core/scalar_math.h) and no fused multiply-add where the CPU has none, so element-wise
//   results are bit-identical to the CPU's.
// - Calls from several host threads are safe: handles, the conv algorithm cache, the
//   staging buffers and the reduction scratch each have a mutex.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "allocator.h"
#include "core/backend.h"

namespace newton {
namespace cuda {

// Note [conv algorithm cache]: the key of one cuDNN algorithm choice. A plain struct of the
// shapes, the Conv2dParams, the dtype and the math mode, compared field by field.
struct ConvAlgoKey {
  int pass = 0;  // 0 forward, 1 backward data, 2 backward filter
  std::array<int64_t, 7> dims{};  // n, c, h, w, k, r, s
  Conv2dParams params;
  int dtype = 0;
  bool tf32 = false;

  bool operator<(const ConvAlgoKey& o) const {
    if (pass != o.pass) return pass < o.pass;
    if (dims != o.dims) return dims < o.dims;
    const std::array<int64_t, 4> a{params.stride_h, params.stride_w, params.pad_h, params.pad_w};
    const std::array<int64_t, 4> b{o.params.stride_h, o.params.stride_w, o.params.pad_h, o.params.pad_w};
    if (a != b) return a < b;
    if (dtype != o.dtype) return dtype < o.dtype;
    return tf32 < o.tf32;
  }
};

struct ConvAlgoChoice {
  int algo = 0;            // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;  // bytes
};

class CudaBackend final : public Backend {
 public:
  // Creates the backend of device `index` (stream, handles, allocator). Throws newton::Error.
  explicit CudaBackend(int index);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device{DeviceKind::CUDA, index_}; }
  Allocator& allocator() override { return allocator_; }
  std::string description() const override { return description_; }
  bool supports(Op op, DType dtype) const override;
  void synchronize() override;

  void copy_from_host(Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
  void fill(Tensor& t, double value) override;
  void copy(Tensor& dst, const Tensor& src) override;
  void cast(Tensor& dst, const Tensor& src) override;

  void binary(BinaryOp op, Tensor& out, const Tensor& a, const Tensor& b) override;
  void scale(Tensor& out, const Tensor& x, double alpha) override;
  void axpy(Tensor& y, double alpha, const Tensor& x) override;
  void relu(Tensor& out, const Tensor& x) override;
  void relu_mask(Tensor& out, const Tensor& x) override;
  void relu_backward(Tensor& dx, const Tensor& dy, const Tensor& x) override;

  double sum(const Tensor& x) override;
  double dot(const Tensor& a, const Tensor& b) override;
  double squared_norm(const Tensor& x) override;

  void gemm(Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p) override;
  void bias_add(Tensor& y, const Tensor& b) override;
  void bias_grad(Tensor& db, const Tensor& dy) override;

  void conv2d_forward(Tensor& y, const Tensor& x, const Tensor& w, const Conv2dParams& p) override;
  void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, const Conv2dParams& p) override;
  void conv2d_backward_filter(Tensor& dw, const Tensor& dy, const Tensor& x, const Conv2dParams& p) override;

  void max_pool2d_forward(Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) override;
  void max_pool2d_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                           const Tensor* relu_input) override;
  void max_pool2d_jvp(Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) override;
  void avg_pool2d_forward(Tensor& y, const Tensor& x, const Pool2dParams& p) override;
  void avg_pool2d_backward(Tensor& dx, const Tensor& dy, const Pool2dParams& p) override;

  double squared_loss(const Tensor& z, const Tensor& y) override;
  void squared_loss_grad(Tensor& dz, const Tensor& z, const Tensor& y) override;
  void softmax(Tensor& p, const Tensor& z) override;
  double softmax_cross_entropy(const Tensor& z, const Tensor& y) override;
  void softmax_cross_entropy_grad(Tensor& dz, const Tensor& z, const Tensor& y) override;
  void softmax_cross_entropy_hvp(Tensor& out, const Tensor& z, const Tensor& u) override;

  void random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) override;
  void random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) override;

  // The fused CG vector update (cg.h): x += αp, r −= αq, returns rᵀr (Backend::cg_update).
  double cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) override;

  // --- for the kernels' files ----------------------------------------------------------
  int index() const { return index_; }
  cudaStream_t stream() const { return stream_; }
  bool tf32() const { return tf32_; }
  CachingAllocator& caching_allocator() { return allocator_; }
  // Makes this backend's device current on the calling thread (cheap; every entry calls it).
  void set_device() const;
  // Frees the allocator's cache (memory statistics show the effect).
  std::size_t release_cache() { return allocator_.release_cache(); }

  // The scratch for two-pass reductions (reduce.cuh): kReduceMaxBlocks + 1 doubles on the
  // device, one pinned host double, and the mutex that serialises their users.
  std::mutex& reduce_mutex() { return reduce_mutex_; }
  double* reduce_scratch() const { return reduce_scratch_; }
  // Copies one double from device memory and waits for the stream; `op` names errors.
  double read_scalar(const char* op, const double* device_value);

 private:
  void release_resources() noexcept;

  const int index_;
  bool tf32_ = false;
  std::string description_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  CachingAllocator allocator_;
  void* cublas_workspace_ = nullptr;
  std::size_t cublas_workspace_bytes_ = 0;
  std::mutex library_mutex_;  // cuBLAS / cuDNN handles and the conv algorithm cache
  std::map<ConvAlgoKey, ConvAlgoChoice> conv_algorithms_;

  // Pinned staging for large host transfers: two chunks used in turn, each with the event
  // that marks the end of its last transfer.
  std::mutex staging_mutex_;
  void* staging_[2] = {nullptr, nullptr};
  cudaEvent_t staging_done_[2] = {nullptr, nullptr};

  std::mutex reduce_mutex_;
  double* reduce_scratch_ = nullptr;  // device
  double* reduce_result_ = nullptr;   // pinned host
};

}  // namespace cuda
}  // namespace newton
