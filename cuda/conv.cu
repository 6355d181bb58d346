// 2-D convolution on the GPU (native/core/ops/conv.h), float32, through cuDNN's legacy
// convolution API (still shipped by cuDNN 9). The bias of conv2d is added by the BiasAdd
// kernel (channel.cu); the fused passes of note [fused conv passes] (core/ops/conv.h) are at
// the end.
//
// Note [cuDNN math and determinism]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// - Math: by default the convolution descriptor says CUDNN_FMA_MATH, the only cuDNN mode
//   that excludes tensor cores. (CUDNN_DEFAULT_MATH is *not* exact: on sm_80 and newer it
//   permits TF32 for float32 data.) With NEWTON_CUDA_TF32=1 the descriptor says
//   CUDNN_DEFAULT_MATH during the search and then the chosen algorithm's own math type.
// - Determinism: only algorithms reported CUDNN_DETERMINISTIC are used (backward data and
//   filter have non-deterministic ones that add with atomics), so a training run gives
//   the same bits every time, as the CPU backend does.
//
// Note [conv algorithm cache]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// The algorithm of a pass is chosen once per ConvAlgoKey (shapes, Conv2dParams, dtype,
// math mode; cuda_backend.h): cudnnGet*_v7 heuristics give the candidates and the largest
// workspace they want (capped at kMaxWorkspace and half the free memory), cudnnFind*Ex
// then times them on the call's own tensors with a workspace of that size from the caching
// allocator, and the fastest acceptable one is kept. If the timed search fails (say, out
// of memory) the best acceptable heuristic candidate is used instead. Each call then takes
// its workspace from the caching allocator (no cudaMalloc per op).
#include <algorithm>
#include <climits>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "check.h"
#include "core/ops/channel.h"
#include "core/ops/conv.h"
#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

constexpr std::size_t kMaxWorkspace = std::size_t{512} << 20;

// --- RAII descriptors ----------------------------------------------------------------------

// One cuDNN descriptor of type T, made by Create and released by Destroy; `op` names the
// op in the error of a failed creation.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class CudnnDescriptor {
 public:
  explicit CudnnDescriptor(const char* op) { NEWTON_CUDNN_CHECK(op, Create(&d_)); }
  ~CudnnDescriptor() {
    if (d_) Destroy(d_);
  }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  T get() const { return d_; }

 private:
  T d_ = nullptr;
};

using TensorDesc = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                 cudnnDestroyConvolutionDescriptor>;

// Device memory from the caching allocator for the duration of one call. Freeing it right
// after the call is queued is safe: the next user is queued on the same stream.
class Workspace {
 public:
  Workspace(Allocator& allocator, std::size_t bytes) : allocator_(allocator), bytes_(bytes) {
    if (bytes_ > 0) ptr_ = allocator_.allocate(bytes_);
  }
  ~Workspace() {
    if (ptr_) allocator_.deallocate(ptr_, bytes_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  Allocator& allocator_;
  std::size_t bytes_;
  void* ptr_ = nullptr;
};

// x (N, C, H, W), w (K, C, R, S), y (N, K, P, Q) as plain numbers.
struct ConvDims {
  int64_t n, c, h, w, k, r, s, p, q;
};

std::string describe(const ConvDims& d, const Conv2dParams& prm) {
  std::ostringstream out;
  out << "x (" << d.n << ", " << d.c << ", " << d.h << ", " << d.w << "), w (" << d.k << ", " << d.c << ", " << d.r
      << ", " << d.s << "), y (" << d.n << ", " << d.k << ", " << d.p << ", " << d.q << "), stride (" << prm.stride_h
      << ", " << prm.stride_w << "), padding (" << prm.pad_h << ", " << prm.pad_w << ")";
  return out.str();
}

// The descriptors of one convolution.
struct ConvSetup {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  ConvAlgoKey key;

  ConvSetup(const char* op, int pass, const ConvDims& d, const Conv2dParams& prm, bool tf32)
      : x(op), y(op), w(op), conv(op) {
    // The legacy API takes int extents and indexes tensors with 32-bit offsets.
    const int64_t biggest = std::max({d.n * d.c * d.h * d.w, d.k * d.c * d.r * d.s, d.n * d.k * d.p * d.q});
    if (biggest > INT32_MAX || prm.stride_h > INT32_MAX || prm.stride_w > INT32_MAX || prm.pad_h > INT32_MAX ||
        prm.pad_w > INT32_MAX) {
      fail<ShapeError>(op, ": cuDNN convolutions take tensors of at most 2^31 - 1 elements; got ", describe(d, prm),
                       " (split the batch)");
    }
    auto i = [](int64_t v) { return static_cast<int>(v); };
    NEWTON_CUDNN_CHECK(op, cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(d.n), i(d.c),
                                                      i(d.h), i(d.w)));
    NEWTON_CUDNN_CHECK(op, cudnnSetTensor4dDescriptor(y.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(d.n), i(d.k),
                                                      i(d.p), i(d.q)));
    NEWTON_CUDNN_CHECK(op, cudnnSetFilter4dDescriptor(w.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(d.k), i(d.c),
                                                      i(d.r), i(d.s)));
    NEWTON_CUDNN_CHECK(op, cudnnSetConvolution2dDescriptor(conv.get(), i(prm.pad_h), i(prm.pad_w), i(prm.stride_h),
                                                           i(prm.stride_w), 1, 1, CUDNN_CROSS_CORRELATION,
                                                           CUDNN_DATA_FLOAT));
    NEWTON_CUDNN_CHECK(op, cudnnSetConvolutionMathType(conv.get(), tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int on = 0, ok = 0, op_ = 0, oq = 0;
    NEWTON_CUDNN_CHECK(op, cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), &on, &ok, &op_, &oq));
    if (on != d.n || ok != d.k || op_ != d.p || oq != d.q) {
      fail<Error>(op, ": cuDNN computes output (", on, ", ", ok, ", ", op_, ", ", oq, ") for ", describe(d, prm),
                  " (internal error: the shapes disagree with the op's)");
    }
    key.pass = pass;
    key.dims = {d.n, d.c, d.h, d.w, d.k, d.r, d.s};
    key.params = prm;
    key.dtype = static_cast<int>(DType::F32);
    key.tf32 = tf32;
  }
};

// The tensors of one pass: forward (x, w) -> y; backward data (w, dy) -> dx; backward
// filter (x, dy) -> dw.
struct ConvBuffers {
  const void* a;
  const void* b;
  void* out;
};

// --- the three passes' cuDNN entry points, behind one shape -------------------------------

struct Forward {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr const char* kOp = ops::Conv2d::info.name;
  static int64_t out_elements(const ConvDims& d) { return d.n * d.k * d.p * d.q; }
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionForwardAlgorithmMaxCount(h, &n));
    return n;
  }
  static void heuristics(cudnnHandle_t h, const ConvSetup& s, int want, int* got, Perf* perf) {
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionForwardAlgorithm_v7(h, s.x.get(), s.w.get(), s.conv.get(), s.y.get(),
                                                                   want, got, perf));
  }
  static cudnnStatus_t find(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int want, int* got, Perf* perf,
                            void* ws, std::size_t ws_bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, s.x.get(), b.a, s.w.get(), b.b, s.conv.get(), s.y.get(), b.out,
                                                  want, got, perf, ws, ws_bytes);
  }
  static void run(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int algo, void* ws, std::size_t bytes,
                  float beta) {
    const float one = 1.0f;
    NEWTON_CUDNN_CHECK(kOp, cudnnConvolutionForward(h, &one, s.x.get(), b.a, s.w.get(), b.b, s.conv.get(),
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws, bytes, &beta,
                                                    s.y.get(), b.out));
  }
};

struct BackwardData {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr const char* kOp = ops::Conv2dBackwardData::info.name;
  static int64_t out_elements(const ConvDims& d) { return d.n * d.c * d.h * d.w; }
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &n));
    return n;
  }
  static void heuristics(cudnnHandle_t h, const ConvSetup& s, int want, int* got, Perf* perf) {
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionBackwardDataAlgorithm_v7(h, s.w.get(), s.y.get(), s.conv.get(),
                                                                        s.x.get(), want, got, perf));
  }
  static cudnnStatus_t find(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int want, int* got, Perf* perf,
                            void* ws, std::size_t ws_bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, s.w.get(), b.a, s.y.get(), b.b, s.conv.get(), s.x.get(),
                                                       b.out, want, got, perf, ws, ws_bytes);
  }
  static void run(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int algo, void* ws, std::size_t bytes,
                  float beta) {
    const float one = 1.0f;
    NEWTON_CUDNN_CHECK(kOp, cudnnConvolutionBackwardData(h, &one, s.w.get(), b.a, s.y.get(), b.b, s.conv.get(),
                                                         static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws, bytes,
                                                         &beta, s.x.get(), b.out));
  }
};

struct BackwardFilter {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr const char* kOp = ops::Conv2dBackwardFilter::info.name;
  static int64_t out_elements(const ConvDims& d) { return d.k * d.c * d.r * d.s; }
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &n));
    return n;
  }
  static void heuristics(cudnnHandle_t h, const ConvSetup& s, int want, int* got, Perf* perf) {
    NEWTON_CUDNN_CHECK(kOp, cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, s.x.get(), s.y.get(), s.conv.get(),
                                                                          s.w.get(), want, got, perf));
  }
  static cudnnStatus_t find(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int want, int* got, Perf* perf,
                            void* ws, std::size_t ws_bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, s.x.get(), b.a, s.y.get(), b.b, s.conv.get(), s.w.get(),
                                                         b.out, want, got, perf, ws, ws_bytes);
  }
  static void run(cudnnHandle_t h, const ConvSetup& s, const ConvBuffers& b, int algo, void* ws, std::size_t bytes,
                  float beta) {
    const float one = 1.0f;
    NEWTON_CUDNN_CHECK(kOp, cudnnConvolutionBackwardFilter(h, &one, s.x.get(), b.a, s.y.get(), b.b, s.conv.get(),
                                                           static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws,
                                                           bytes, &beta, s.w.get(), b.out));
  }
};

// See note [cuDNN math and determinism].
template <typename Perf>
bool acceptable(const Perf& r, bool tf32) {
  if (r.status != CUDNN_STATUS_SUCCESS || r.determinism != CUDNN_DETERMINISTIC) return false;
  return tf32 || (r.mathType != CUDNN_TENSOR_OP_MATH && r.mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
}

// See note [conv algorithm cache].
template <typename Pass>
ConvAlgoChoice choose_algorithm(cudnnHandle_t h, Allocator& allocator, const ConvSetup& s, const ConvBuffers& b,
                                const ConvDims& d, const Conv2dParams& prm, bool tf32) {
  using Perf = typename Pass::Perf;
  const int max_count = std::max(1, Pass::max_count(h));
  std::vector<Perf> candidates(static_cast<std::size_t>(max_count));
  int got = 0;
  Pass::heuristics(h, s, max_count, &got, candidates.data());
  candidates.resize(static_cast<std::size_t>(std::max(0, got)));

  std::size_t free_bytes = 0, total_bytes = 0;
  NEWTON_CUDA_CHECK(Pass::kOp, cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t cap = std::min(kMaxWorkspace, free_bytes / 2);
  std::size_t budget = 0;
  for (const Perf& r : candidates) {
    if (acceptable(r, tf32) && r.memory <= cap) budget = std::max(budget, r.memory);
  }

  try {
    Workspace ws(allocator, budget);
    std::vector<Perf> timed(static_cast<std::size_t>(max_count));
    int timed_count = 0;
    const cudnnStatus_t status = Pass::find(h, s, b, max_count, &timed_count, timed.data(), ws.get(), budget);
    if (status == CUDNN_STATUS_SUCCESS) {
      for (int i = 0; i < timed_count; ++i) {
        const Perf& r = timed[static_cast<std::size_t>(i)];
        if (acceptable(r, tf32) && r.memory <= budget) return ConvAlgoChoice{static_cast<int>(r.algo), r.mathType, r.memory};
      }
    }
  } catch (const Error&) {
    // Out of memory for the search's workspace: fall back to the heuristics below.
  }
  cudaGetLastError();  // a failed search leaves no error behind for the next call

  for (const Perf& r : candidates) {
    if (acceptable(r, tf32) && r.memory <= cap) return ConvAlgoChoice{static_cast<int>(r.algo), r.mathType, r.memory};
  }
  fail<Error>(Pass::kOp, ": cuDNN offers no deterministic ", tf32 ? "" : "exact float32 (no TF32) ",
              "algorithm that fits in memory for ", describe(d, prm));
}

// Runs one pass: descriptors, the cached (or newly chosen) algorithm, a workspace, the call.
// beta = 1 adds the result to the output (conv2dJvp's second convolution); the timed search
// writes its output, so a call with beta ≠ 0 searches on a scratch output instead.
template <typename Pass>
void run_conv(CudaBackend& cuda, int pass, const ConvDims& d, const Conv2dParams& prm, const ConvBuffers& b,
              float beta = 0.0f) {
  cuda.set_device();
  const bool tf32 = cuda.tf32();
  CachingAllocator& allocator = cuda.caching_allocator();
  std::lock_guard<std::mutex> lock(cuda.library_mutex());
  const cudnnHandle_t h = cuda.cudnn();
  std::map<ConvAlgoKey, ConvAlgoChoice>& cache = cuda.conv_algorithms();
  try {
    ConvSetup s(Pass::kOp, pass, d, prm, tf32);
    auto it = cache.find(s.key);
    if (it == cache.end()) {
      const bool keep_output = beta != 0.0f;
      Workspace scratch(allocator, keep_output ? sizeof(float) * static_cast<std::size_t>(Pass::out_elements(d)) : 0);
      const ConvBuffers search = keep_output ? ConvBuffers{b.a, b.b, scratch.get()} : b;
      const ConvAlgoChoice choice = choose_algorithm<Pass>(h, allocator, s, search, d, prm, tf32);
      it = cache.emplace(s.key, choice).first;
    }
    const ConvAlgoChoice& choice = it->second;
    // Exact mode keeps CUDNN_FMA_MATH on the descriptor whatever the search reported.
    if (tf32) NEWTON_CUDNN_CHECK(Pass::kOp, cudnnSetConvolutionMathType(s.conv.get(), choice.math));
    Workspace ws(allocator, choice.workspace);
    Pass::run(h, s, b, choice.algo, ws.get(), ws.bytes(), beta);
  } catch (const ShapeError&) {
    throw;
  } catch (const OutOfMemoryError& e) {
    // The workspace did not fit: still an out-of-memory (a RangeError in JS), with the shapes.
    throw OutOfMemoryError(std::string(e.what()) + " [" + describe(d, prm) + "]");
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find(" for x (") != std::string::npos) throw;
    throw Error(what + " [" + describe(d, prm) + "]");  // every cuDNN failure names the shapes
  }
}

// y: (N, K, P, Q) = x: (N, C, H, W) ⋆ w: (K, C, R, S) (+ b: (K) when not null, by the BiasAdd
// kernel: cuDNN adds a bias only in its fused convolution-bias-activation call)
void conv2d_forward(Backend& backend, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b,
                    const Conv2dParams& p) {
  const ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3)};
  run_conv<Forward>(as_cuda(backend), 0, d, p, ConvBuffers{x.raw(), w.raw(), y.raw()});
  if (b != nullptr) backend.kernels().find<ops::BiasAdd>(y.dtype())(backend, y, y, *b);
}

// dx: (N, C, H, W), dy: (N, K, P, Q), w: (K, C, R, S)
void conv2d_backward_data(Backend& backend, Tensor& dx, const Tensor& dy, const Tensor& w, const Conv2dParams& p) {
  const ConvDims d{dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3), w.dim(0), w.dim(2), w.dim(3), dy.dim(2), dy.dim(3)};
  run_conv<BackwardData>(as_cuda(backend), 1, d, p, ConvBuffers{w.raw(), dy.raw(), dx.raw()});
}

// dw: (K, C, R, S), dy: (N, K, P, Q), x: (N, C, H, W)
void conv2d_backward_filter(Backend& backend, Tensor& dw, const Tensor& dy, const Tensor& x, const Conv2dParams& p) {
  const ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), dw.dim(0), dw.dim(2), dw.dim(3), dy.dim(2), dy.dim(3)};
  run_conv<BackwardFilter>(as_cuda(backend), 2, d, p, ConvBuffers{x.raw(), dy.raw(), dw.raw()});
}

// --- the fused passes (note [fused conv passes] in core/ops/conv.h) -------------------------

// Runs this backend's float32 kernel of OpT (registered by another file of this library):
// the core's launch() is not linked into it.
template <typename OpT, typename... A>
void run_kernel(Backend& backend, A&&... args) {
  typename OpT::Kernel* kernel = backend.kernels().find<OpT>(DType::F32);
  if (kernel == nullptr) fail<Error>(OpT::info.name, ": no CUDA kernel registered (internal error)");
  kernel(backend, std::forward<A>(args)...);
}

// y: (N, K, P, Q) = relu(x ⋆ w + b): cuDNN's convolution, then one pass adding b (when given)
// and applying relu, with the CPU's roundings (one float addition, then relu).
void conv2d_relu(Backend& backend, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), y.dim(2), y.dim(3)};
  run_conv<Forward>(cuda, 0, d, p, ConvBuffers{x.raw(), w.raw(), y.raw()});
  float* out = y.data<float>();
  const float* bias = b != nullptr ? b->data<float>() : nullptr;
  const int64_t plane = d.p * d.q, k = d.k;
  launch_for_each(ops::Conv2dRelu::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) {
    const float v = bias != nullptr ? add_rn(out[i], bias[(i / plane) % k]) : out[i];
    out[i] = math::relu(v);
  });
}

// dx (or null): (N, C, H, W), dw: (K, C, R, S), db (or null): (K); dy: (N, K, P, Q). cuDNN has
// no pass that shares dy between its backward passes: backward data, backward filter and
// the deterministic bias-gradient kernel of biasGrad (channel.cu).
void conv2d_backward_all(Backend& backend, Tensor* dx, Tensor& dw, Tensor* db, const Tensor& dy, const Tensor& x,
                         const Tensor& w, const Conv2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), dy.dim(2), dy.dim(3)};
  if (dx != nullptr) run_conv<BackwardData>(cuda, 1, d, p, ConvBuffers{w.raw(), dy.raw(), dx->raw()});
  run_conv<BackwardFilter>(cuda, 2, d, p, ConvBuffers{x.raw(), dy.raw(), dw.raw()});
  if (db != nullptr) run_kernel<ops::BiasGrad>(backend, *db, dy);
}

// ry: (N, K, P, Q) = W ⋆ rx + V ⋆ x + vb: V ⋆ x, then W ⋆ rx added by the same convolution
// with beta = 1 (no separate add pass), then the bias by biasAdd's kernel.
void conv2d_jvp(Backend& backend, Tensor& ry, const Tensor& x, const Tensor& w, const Tensor* rx, const Tensor& v,
                const Tensor* vb, const Conv2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const ConvDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), ry.dim(2), ry.dim(3)};
  run_conv<Forward>(cuda, 0, d, p, ConvBuffers{x.raw(), v.raw(), ry.raw()});
  if (rx != nullptr) run_conv<Forward>(cuda, 0, d, p, ConvBuffers{rx->raw(), w.raw(), ry.raw()}, 1.0f);
  if (vb != nullptr) run_kernel<ops::BiasAdd>(backend, ry, ry, *vb);
}

}  // namespace

void register_conv_kernels(KernelTable& table) {
  table.add<ops::Conv2d>(kFloat32Only, conv2d_forward);
  table.add<ops::Conv2dBackwardData>(kFloat32Only, conv2d_backward_data);
  table.add<ops::Conv2dBackwardFilter>(kFloat32Only, conv2d_backward_filter);
  table.add<ops::Conv2dRelu>(kFloat32Only, conv2d_relu);
  table.add<ops::Conv2dBackward>(kFloat32Only, conv2d_backward_all);
  table.add<ops::Conv2dJvp>(kFloat32Only, conv2d_jvp);
}

}  // namespace cuda
}  // namespace newton
