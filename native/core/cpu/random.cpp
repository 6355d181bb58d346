// Counter-based random fills (note [random numbers] in random.h). Element i depends only
// on (seed, offset + i), so the work can be split across threads freely.
#include "../parallel.h"
#include "../ops/random.h"
#include "../random.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

template <typename T, typename Draw>
void fill_random(Tensor& t, uint64_t offset, Draw draw) {
  T* p = t.data<T>();
  parallel_for(t.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) p[i] = static_cast<T>(draw(offset + static_cast<uint64_t>(i)));
  });
}

void random_uniform(Backend&, Tensor& t, uint64_t seed, uint64_t offset, double low, double high) {
  const double width = high - low;
  if (t.dtype() == DType::F32) {
    fill_random<float>(t, offset, [=](uint64_t j) { return low + width * philox::uniform_f32(seed, j); });
  } else {
    fill_random<double>(t, offset, [=](uint64_t j) { return low + width * philox::uniform_f64(seed, j); });
  }
}

void random_normal(Backend&, Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  if (t.dtype() == DType::F32) {
    fill_random<float>(t, offset, [=](uint64_t j) { return mean + stddev * philox::normal_f32(seed, j); });
  } else {
    fill_random<double>(t, offset, [=](uint64_t j) { return mean + stddev * philox::normal_f64(seed, j); });
  }
}

}  // namespace

void register_random_kernels(KernelTable& table) {
  table.add<ops::RandomUniform>(kFloatingTypes, random_uniform);
  table.add<ops::RandomNormal>(kFloatingTypes, random_normal);
}

}  // namespace newton
