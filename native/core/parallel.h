// A small fixed thread pool for the CPU backend.
//
// parallel_for splits [0, n) into contiguous chunks of at least `grain` items and runs
// them on the pool; the calling thread takes part. Work is partitioned by index, never
// by timing, and reductions combine fixed-size blocks in a fixed order (see reduce.cpp),
// so results do not depend on the number of threads. Calls from inside a parallel region
// run serially on the calling thread.
#pragma once

#include <cstdint>
#include <functional>

namespace newton {

// Threads used by parallel_for (default: hardware concurrency, or NEWTON_NUM_THREADS).
int num_threads();
// Sets the thread count (1 … 256); also sets OpenBLAS's when it is linked.
void set_num_threads(int n);

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace newton
