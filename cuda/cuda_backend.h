// The CUDA backend: one CudaBackend per device, built into libnewton_cuda.so and created
// by newton_backend_create (entry.cu) when the addon loads it (native/core/registry.h).
// Each op family's kernels live in the file of the family's name, as in the CPU backend
// (data.cu, elementwise.cu, reduce.cu, channel.cu, linalg.cu, conv.cu, pool.cu, loss.cu,
// random.cu): plain functions of the ops' `Kernel` signatures (native/core/ops/*.h), listed
// in the kernel table by the family's register_<family>_kernels function (note [kernel
// tables] in native/core/backend.h).
//
// Note [cuda execution model]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// - float32 only, plus fill/copy/cast of int32 index tensors: the kernel table lists
//   nothing else, so the dispatcher reports "<op>: float64 is not supported on cuda:0".
// - The dispatcher (native/core/op.h) has checked every argument and allocated every
//   output before a kernel runs; kernels throw only for CUDA, cuBLAS and cuDNN failures
//   (check.h) and for limits of those libraries (cuDNN's 2^31-element tensors).
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
//   (native/core/scalar_math.h) and no fused multiply-add where the CPU has none, so
//   element-wise results are bit-identical to the CPU's.
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
#include <vector>

#include "allocator.h"
#include "core/backend.h"
#include "core/op_params.h"

namespace newton {
namespace cuda {

// The key of one cuDNN algorithm choice (note [conv algorithm cache] in conv.cu): a plain
// struct of the shapes, the Conv2dParams, the dtype and the math mode, compared field by
// field.
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

// Each family's file lists its kernels (note [kernel tables] in native/core/backend.h).
void register_data_kernels(KernelTable& table);
void register_elementwise_kernels(KernelTable& table);
void register_reduce_kernels(KernelTable& table);
void register_channel_kernels(KernelTable& table);
void register_linalg_kernels(KernelTable& table);
void register_conv_kernels(KernelTable& table);
void register_pool_kernels(KernelTable& table);
void register_loss_kernels(KernelTable& table);
void register_random_kernels(KernelTable& table);
void register_fused_kernels(KernelTable& table);

class CudaBackend final : public Backend {
 public:
  // Creates the backend of device `index` (stream, handles, allocator, kernel table).
  // Throws newton::Error.
  explicit CudaBackend(int index);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device{DeviceKind::CUDA, index_}; }
  Allocator& allocator() override { return allocator_; }
  std::string description() const override { return description_; }
  void synchronize() override;

  void copy_from_host(Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;

  // The profiler's hooks (note [cuda profiling] in profile.cu).
  void profile_session_begin() override;
  void profile_op_begin(const char* name, ProfileTiming& t) override;
  void profile_op_end(ProfileTiming& t) override;
  void profile_resolve(ProfileTiming& t) override;
  void profile_range_push(const char* name) override;
  void profile_range_pop() override;
  std::string profile_track() const override { return "stream 0"; }

  // --- for the kernels ---------------------------------------------------------------
  int index() const { return index_; }
  cudaStream_t stream() const { return stream_; }
  // TF32 math for cuBLAS and cuDNN (NEWTON_CUDA_TF32=1 when the backend was created).
  bool tf32() const { return tf32_; }
  CachingAllocator& caching_allocator() { return allocator_; }
  // Makes this backend's device current on the calling thread (cheap; every kernel calls it).
  void set_device() const;

  // The cuBLAS and cuDNN handles (bound to stream()) and the conv algorithm cache (note
  // [conv algorithm cache] in conv.cu): use them only while holding library_mutex().
  std::mutex& library_mutex() { return library_mutex_; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  std::map<ConvAlgoKey, ConvAlgoChoice>& conv_algorithms() { return conv_algorithms_; }

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

  // Profiler events (profile.cu): a pool reused by every session, the next free slot, and
  // the session's origin (an event and the host time at which it had completed).
  std::mutex profile_mutex_;
  std::vector<cudaEvent_t> profile_events_;
  std::size_t profile_next_event_ = 0;
  cudaEvent_t profile_origin_ = nullptr;
  int64_t profile_origin_ns_ = 0;
  int take_profile_event();
  cudaEvent_t profile_event(int index);
  void release_profile_events() noexcept;

  std::mutex reduce_mutex_;
  double* reduce_scratch_ = nullptr;  // device
  double* reduce_result_ = nullptr;   // pinned host
};

// The CudaBackend a kernel runs on. Kernels are listed only in CudaBackend's kernel table,
// so the dispatcher always passes one.
inline CudaBackend& as_cuda(Backend& b) { return static_cast<CudaBackend&>(b); }

}  // namespace cuda
}  // namespace newton
