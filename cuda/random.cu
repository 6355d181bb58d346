// Counter-based random fills on the GPU (note [random numbers] in core/random.h). Element
// i is philox::*(seed, offset + i), the same __host__ __device__ code as the CPU backend,
// so uniforms are bit-identical to the CPU's. Normals use the device's double log/cos
// (≤ 2 ulp in double), so after rounding to float32 they equal the CPU's except, rarely,
// by one float32 ulp. The affine map low + width·u is done without FMA, as on the CPU.
#include "core/random.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

void CudaBackend::random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) {
  const char* op = "randomUniform";
  if (t.dtype() != DType::F32) fail<ArgumentTypeError>(op, ": t must be float32 on cuda, got ", dtype_name(t.dtype()));
  set_device();
  float* p = t.data<float>();
  const double width = high - low;
  launch_for_each(op, stream_, t.numel(), [=] __device__(int64_t i) {
    const double u = philox::uniform_f32(seed, offset + static_cast<uint64_t>(i));
    p[i] = static_cast<float>(add_rn(low, mul_rn(width, u)));
  });
}

void CudaBackend::random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  const char* op = "randomNormal";
  if (t.dtype() != DType::F32) fail<ArgumentTypeError>(op, ": t must be float32 on cuda, got ", dtype_name(t.dtype()));
  set_device();
  float* p = t.data<float>();
  launch_for_each(op, stream_, t.numel(), [=] __device__(int64_t i) {
    const double z = philox::normal_f32(seed, offset + static_cast<uint64_t>(i));
    p[i] = static_cast<float>(add_rn(mean, mul_rn(stddev, z)));
  });
}

}  // namespace cuda
}  // namespace newton
