// Counter-based random fills on the GPU (native/core/ops/random.h; note [random numbers] in
// native/core/random.h), float32. Element i is philox::*(seed, offset + i), the same
// __host__ __device__ code as the CPU backend, so uniforms are bit-identical to the CPU's.
// Normals use the device's double log/cos (≤ 2 ulp in double), so after rounding to float32
// they equal the CPU's except, rarely, by one float32 ulp. The affine map low + width·u is
// done without FMA, as on the CPU.
#include "core/ops/random.h"
#include "core/random.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

// t = uniform numbers in [low, high)
void random_uniform(Backend& backend, Tensor& t, uint64_t seed, uint64_t offset, double low, double high) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* p = t.data<float>();
  const double width = high - low;
  launch_for_each(ops::RandomUniform::info.name, cuda.stream(), t.numel(), [=] __device__(int64_t i) {
    const double u = philox::uniform_f32(seed, offset + static_cast<uint64_t>(i));
    p[i] = static_cast<float>(add_rn(low, mul_rn(width, u)));
  });
}

// t = normal numbers of mean `mean` and standard deviation `stddev`
void random_normal(Backend& backend, Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* p = t.data<float>();
  launch_for_each(ops::RandomNormal::info.name, cuda.stream(), t.numel(), [=] __device__(int64_t i) {
    const double z = philox::normal_f32(seed, offset + static_cast<uint64_t>(i));
    p[i] = static_cast<float>(add_rn(mean, mul_rn(stddev, z)));
  });
}

}  // namespace

void register_random_kernels(KernelTable& table) {
  table.add<ops::RandomUniform>(kFloat32Only, random_uniform);
  table.add<ops::RandomNormal>(kFloat32Only, random_normal);
}

}  // namespace cuda
}  // namespace newton
