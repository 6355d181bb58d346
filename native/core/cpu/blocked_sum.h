// Deterministic parallel summation in double: the range is cut into fixed blocks of
// kSumBlock items, each block is summed in order, then the block sums are added in order,
// so the result is the same for every thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../parallel.h"

namespace newton {

inline constexpr int64_t kSumBlock = 4096;

// Σ term(i) over [0, n).
template <typename Term>
double blocked_sum(int64_t n, Term term) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kSumBlock, hi = std::min(n, lo + kSumBlock);
      double acc = 0;
      for (int64_t i = lo; i < hi; ++i) acc += term(i);
      partial[static_cast<std::size_t>(b)] = acc;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace newton
