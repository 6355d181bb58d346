// Calls a generic lambda with a value of the C++ type matching a floating dtype, so that
// each CPU kernel is written once as a template: dispatch_floating(t.dtype(), [&](auto zero) {
// using T = decltype(zero); ... }).
#pragma once

#include "../dtype.h"
#include "../error.h"
#include "../parallel.h"
#include "isa.h"

namespace newton {

template <typename F>
void dispatch_floating(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    default: fail<Error>("cpu: ", dtype_name(dtype), " is not a floating-point dtype");
  }
}

// Element-wise work is split in chunks of this many items per thread at least.
inline constexpr int64_t kElementwiseGrain = 1 << 14;

// Runs f(i) for every i in [0, n) on the pool, in chunks of at least kElementwiseGrain,
// vectorised for the processor (note [run-time ISA] in isa.h).
template <typename F>
void for_each_index(int64_t n, F f) {
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    with_cpu_isa([&] {
      for (int64_t i = begin; i < end; ++i) f(i);
    });
  });
}

}  // namespace newton
