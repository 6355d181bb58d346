// Deterministic parallel summation in double: the range is cut into fixed blocks of
// kSumBlock items; in a block, item i goes to lane (i mod kSumLanes), each lane summed in
// index order, and the lanes are added as a fixed tree; the block sums are then added in
// order. The order depends on n only, so the result is the same for every thread count and
// every ISA (the lanes are what a vector register holds: one AVX-512 register, two AVX2 or
// four SSE2 ones, instead of one chain of dependent additions; note [run-time ISA] in isa.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../parallel.h"
#include "isa.h"

namespace newton {

inline constexpr int64_t kSumBlock = 4096;
inline constexpr int kSumLanes = 8;
static_assert(kSumBlock % kSumLanes == 0, "blocks start at lane 0");

// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
inline double add_lanes(const double (&lane)[kSumLanes]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Σ term(i) over [0, n).
template <typename Term>
double blocked_sum(int64_t n, Term term) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kSumBlock, hi = std::min(n, lo + kSumBlock);
      double lane[kSumLanes] = {};
      with_cpu_isa([&] {
        int64_t i = lo;
        for (; i + kSumLanes <= hi; i += kSumLanes) {
          for (int l = 0; l < kSumLanes; ++l) lane[l] += term(i + l);
        }
        for (; i < hi; ++i) lane[(i - lo) % kSumLanes] += term(i);
      });
      partial[static_cast<std::size_t>(b)] = add_lanes(lane);
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace newton
