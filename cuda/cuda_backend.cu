// The CUDA backend's set-up, kernel table, host transfers and synchronisation. The op
// families' kernels live in data.cu, elementwise.cu, reduce.cu, channel.cu, linalg.cu,
// conv.cu, pool.cu, loss.cu and random.cu.
#include "cuda_backend.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "check.h"
#include "reduce.cuh"

namespace newton {
namespace cuda {

namespace {

// Transfers of at least this size go through the pinned staging chunks; smaller ones are
// latency-bound and go straight from/to pageable memory.
constexpr std::size_t kStagingThreshold = std::size_t{1} << 20;
constexpr std::size_t kStagingChunk = std::size_t{8} << 20;
// cuBLAS's recommended workspace on Hopper (4 MiB suffices before it).
constexpr std::size_t kCublasWorkspace = std::size_t{32} << 20;

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && (std::strcmp(v, "1") == 0 || std::strcmp(v, "true") == 0 || std::strcmp(v, "on") == 0);
}

std::string version_string(int v, int major_div, int minor_div) {
  return std::to_string(v / major_div) + "." + std::to_string(v % major_div / minor_div);
}

}  // namespace

CudaBackend::CudaBackend(int index) : index_(index), allocator_(index) {
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

  const char* op = "cuda backend";
  tf32_ = env_flag("NEWTON_CUDA_TF32");
  try {
    NEWTON_CUDA_CHECK(op, cudaSetDevice(index_));
    cudaDeviceProp prop{};
    NEWTON_CUDA_CHECK(op, cudaGetDeviceProperties(&prop, index_));
    NEWTON_CUDA_CHECK(op, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));

    NEWTON_CUBLAS_CHECK(op, cublasCreate(&cublas_));
    NEWTON_CUBLAS_CHECK(op, cublasSetStream(cublas_, stream_));
    // Exact float32 unless TF32 is asked for (NEWTON_CUDA_TF32=1). CUBLAS_DEFAULT_MATH
    // never uses TF32 for SGEMM.
    NEWTON_CUBLAS_CHECK(op, cublasSetMathMode(cublas_, tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    // cuBLAS would otherwise cudaMalloc a workspace of its own per stream. Taken from CUDA
    // directly, once, so that memory statistics count tensors only.
    NEWTON_CUDA_CHECK(op, cudaMalloc(&cublas_workspace_, kCublasWorkspace));
    cublas_workspace_bytes_ = kCublasWorkspace;
    NEWTON_CUBLAS_CHECK(op, cublasSetWorkspace(cublas_, cublas_workspace_, cublas_workspace_bytes_));

    NEWTON_CUDNN_CHECK(op, cudnnCreate(&cudnn_));
    NEWTON_CUDNN_CHECK(op, cudnnSetStream(cudnn_, stream_));

    NEWTON_CUDA_CHECK(op, cudaMalloc(&reduce_scratch_, sizeof(double) * (kReduceMaxBlocks + 1)));
    NEWTON_CUDA_CHECK(op, cudaHostAlloc(&reduce_result_, sizeof(double), cudaHostAllocDefault));
    for (int i = 0; i < 2; ++i) {
      NEWTON_CUDA_CHECK(op, cudaEventCreateWithFlags(&staging_done_[i], cudaEventDisableTiming));
      if (cudaHostAlloc(&staging_[i], kStagingChunk, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();  // no pinned memory: large transfers go through pageable memory
        staging_[i] = nullptr;
      }
    }

    int driver = 0, runtime = 0, cublas_version = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    cublasGetVersion(cublas_, &cublas_version);
    const std::size_t cudnn_version = cudnnGetVersion();
    std::ostringstream d;
    d.precision(1);
    d << std::fixed << prop.name << ", compute capability " << prop.major << "." << prop.minor << ", "
      << static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0) << " GiB, driver "
      << version_string(driver, 1000, 10) << ", runtime " << version_string(runtime, 1000, 10) << ", cuBLAS "
      << cublas_version / 10000 << "." << cublas_version / 100 % 100 << "." << cublas_version % 100 << ", cuDNN "
      << cudnn_version / 10000 << "." << cudnn_version / 100 % 100 << "." << cudnn_version % 100
      << (tf32_ ? ", TF32 math (NEWTON_CUDA_TF32=1)" : ", float32 math (TF32 off)");
    description_ = d.str();
  } catch (...) {
    release_resources();  // the destructor does not run for a constructor that throws
    throw;
  }
}

CudaBackend::~CudaBackend() { release_resources(); }

void CudaBackend::release_resources() noexcept {
  // Errors are ignored: at process exit the runtime may be unloading.
  release_profile_events();
  if (cudnn_) cudnnDestroy(cudnn_);
  cudnn_ = nullptr;
  if (cublas_) cublasDestroy(cublas_);
  cublas_ = nullptr;
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  cublas_workspace_ = nullptr;
  for (int i = 0; i < 2; ++i) {
    if (staging_[i]) cudaFreeHost(staging_[i]);
    staging_[i] = nullptr;
    if (staging_done_[i]) cudaEventDestroy(staging_done_[i]);
    staging_done_[i] = nullptr;
  }
  if (reduce_scratch_) cudaFree(reduce_scratch_);
  reduce_scratch_ = nullptr;
  if (reduce_result_) cudaFreeHost(reduce_result_);
  reduce_result_ = nullptr;
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

void CudaBackend::set_device() const { NEWTON_CUDA_CHECK("cuda", cudaSetDevice(index_)); }

void CudaBackend::synchronize() {
  set_device();
  NEWTON_CUDA_CHECK("synchronize", cudaStreamSynchronize(stream_));
}

double CudaBackend::read_scalar(const char* op, const double* device_value) {
  NEWTON_CUDA_CHECK(op, cudaMemcpyAsync(reduce_result_, device_value, sizeof(double), cudaMemcpyDeviceToHost, stream_));
  NEWTON_CUDA_CHECK(op, cudaStreamSynchronize(stream_));
  return *reduce_result_;
}

// dst: any shape and a dtype of this device (ops::empty in native/core/ops.cpp refuses the
// others before the tensor exists); src: dst.nbytes() bytes of host memory.
void CudaBackend::copy_from_host(Tensor& dst, const void* src) {
  const char* op = "copyFromHost";
  const std::size_t n = dst.nbytes();
  if (n == 0) return;
  set_device();
  char* out = static_cast<char*>(dst.raw());
  const char* in = static_cast<const char*>(src);
  if (n < kStagingThreshold || staging_[0] == nullptr || staging_[1] == nullptr) {
    // From pageable memory this returns once `src` has been read (CUDA runtime API docs,
    // "API synchronization behavior"), so the caller may free it at once.
    NEWTON_CUDA_CHECK(op, cudaMemcpyAsync(out, in, n, cudaMemcpyHostToDevice, stream_));
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mutex_);
  for (std::size_t off = 0, i = 0; off < n; off += kStagingChunk, ++i) {
    const int b = static_cast<int>(i & 1);
    const std::size_t len = std::min(kStagingChunk, n - off);
    // Wait until this chunk's previous transfer has read it (immediate if never recorded).
    NEWTON_CUDA_CHECK(op, cudaEventSynchronize(staging_done_[b]));
    std::memcpy(staging_[b], in + off, len);
    NEWTON_CUDA_CHECK(op, cudaMemcpyAsync(out + off, staging_[b], len, cudaMemcpyHostToDevice, stream_));
    NEWTON_CUDA_CHECK(op, cudaEventRecord(staging_done_[b], stream_));
  }
  // The last two transfers may still be running; they read only the staging chunks, which
  // the next user waits for through the events.
}

// dst: src.nbytes() bytes of host memory. Waits for every queued op that writes src.
void CudaBackend::copy_to_host(void* dst, const Tensor& src) {
  const char* op = "copyToHost";
  const std::size_t n = src.nbytes();
  if (n == 0) return;
  set_device();
  char* out = static_cast<char*>(dst);
  const char* in = static_cast<const char*>(src.raw());
  if (n < kStagingThreshold || staging_[0] == nullptr || staging_[1] == nullptr) {
    NEWTON_CUDA_CHECK(op, cudaMemcpyAsync(out, in, n, cudaMemcpyDeviceToHost, stream_));
    NEWTON_CUDA_CHECK(op, cudaStreamSynchronize(stream_));
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mutex_);
  const std::size_t chunks = (n + kStagingChunk - 1) / kStagingChunk;
  auto issue = [&](std::size_t j) {
    const int b = static_cast<int>(j & 1);
    const std::size_t off = j * kStagingChunk, len = std::min(kStagingChunk, n - off);
    // Queued after every earlier use of the chunk on this stream, so no host wait is needed.
    NEWTON_CUDA_CHECK(op, cudaMemcpyAsync(staging_[b], in + off, len, cudaMemcpyDeviceToHost, stream_));
    NEWTON_CUDA_CHECK(op, cudaEventRecord(staging_done_[b], stream_));
  };
  issue(0);
  for (std::size_t j = 0; j < chunks; ++j) {
    // Chunk j+1 goes into the other buffer, whose previous contents (chunk j-1) were
    // copied out in the previous iteration.
    if (j + 1 < chunks) issue(j + 1);
    const int b = static_cast<int>(j & 1);
    const std::size_t off = j * kStagingChunk, len = std::min(kStagingChunk, n - off);
    NEWTON_CUDA_CHECK(op, cudaEventSynchronize(staging_done_[b]));
    std::memcpy(out + off, staging_[b], len);
  }
}

}  // namespace cuda
}  // namespace newton
