// A small fixed thread pool for the CPU backend.
//
// parallel_for splits [0, n) into contiguous chunks of at least `grain` items and runs
// them on the pool; the calling thread takes part. Work is partitioned by index, never
// by timing, and reductions combine fixed-size blocks in a fixed order (see reduce.cpp),
// so results do not depend on the number of threads. Calls from inside a parallel region
// run serially on the calling thread.
//
// The pool is process-wide: every thread that calls in (the main thread, Node worker
// threads) shares it, one parallel_for at a time; it is never destroyed, so a caller that goes
// away (a terminated worker) leaves it intact. An exception thrown by the body in any chunk is
// rethrown to the caller once every chunk has finished.
//
// Between jobs the workers, and the caller waiting for the last chunk, poll (yielding the
// core between polls) for a bounded time (NEWTON_POOL_SPIN_US microseconds, default 50; 0 =
// never) before they sleep on a condition variable: back-to-back ops then skip the wake-up
// through the kernel, and an idle pool still sleeps (note [spinning pool] in parallel.cpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>

namespace newton {

// Threads used by parallel_for (default: hardware concurrency, or NEWTON_NUM_THREADS).
int num_threads();
// Sets the thread count (1 … 256). OpenBLAS, when linked, is kept single-threaded: all CPU
// parallelism goes through this pool (see note [single-threaded BLAS] in parallel.cpp).
void set_num_threads(int n);

// True on a thread that is running a parallel_for body (where nested parallel_for calls
// run serially): callers use it to pick a serial algorithm instead of splitting work.
bool in_parallel_region();

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& body);

// Runs body(i, state) for every i in [0, n) on up to num_threads() tasks that claim items
// one at a time, each task with its own state = make_state() (a workspace, say). For coarse
// items (a convolution chunk, a GEMM block): a task slowed down by another process on a
// shared core then just takes fewer items, where a static split would wait for it. Which
// task runs an item varies from run to run, so items must not depend on one another.
template <typename MakeState, typename Body>
void parallel_claim(int64_t n, const MakeState& make_state, const Body& body) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(n, num_threads()), 1, [&](int64_t, int64_t) {
    auto state = make_state();
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) body(i, state);
  });
}

}  // namespace newton
