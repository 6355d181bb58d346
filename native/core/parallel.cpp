#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "error.h"

#ifdef NEWTON_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

// Note [single-threaded BLAS]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// OpenBLAS is always set to one thread. With its own pool it threads the small GEMMs of a
// convolution chunk poorly, and its workers spin for a while after each call, competing for
// the cores with our pool's im2col/scatter work that runs next. Instead cpu_gemm splits a
// large GEMM into fixed blocks over parallel_for (gemm.cpp), and the convolutions run whole
// chunks per task (conv.cpp), each with a single-threaded BLAS call.

namespace newton {
namespace {

thread_local bool t_in_region = false;

// NEWTON_NUM_THREADS when it is a whole number from 1 to 256, else the hardware concurrency.
// (lib/native.ts refuses other values with an Error naming the variable before the addon is
// loaded; a C++ program linking the core gets the default.)
int default_thread_count() {
  if (const char* env = std::getenv("NEWTON_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 256) return static_cast<int>(n);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

// Marks the current thread as inside a parallel region for its lifetime, also when the body
// throws.
struct RegionGuard {
  RegionGuard() { t_in_region = true; }
  ~RegionGuard() { t_in_region = false; }
};

// Note [spinning pool]
// ~~~~~~~~~~~~~~~~~~~~
// A job is posted by publishing job_ = (generation << kChunkBits) | chunks with one release
// store; worker `index` runs chunk `index` when index < chunks. After a chunk (and at
// start), a worker polls job_ for up to spin_ns() before it blocks on the condition
// variable, and the caller likewise polls the count of pending chunks before it blocks: the
// CPU ops run back to back, so the next job usually arrives within microseconds, and waking a
// sleeping thread through the kernel costs about as much as a small op (≈4% of an SGD step
// was wake-up latency). The spin is bounded (NEWTON_POOL_SPIN_US, default kDefaultSpinUs;
// 0 = never spin), so an idle pool sleeps and burns no core. The generation and the chunk
// count travel in one atomic word so that a worker that takes no part in a job can never pair
// the generation of one job with the chunk count of the next; body_ and n_ are read only by
// the job's own workers, and stay fixed until the last of them has counted down.
constexpr int kChunkBits = 9;  // chunks ≤ 256 threads < 2^9
constexpr int64_t kDefaultSpinUs = 50;

// NEWTON_POOL_SPIN_US when it is a whole number from 0 to 10^6, else kDefaultSpinUs.
int64_t spin_ns() {
  static const int64_t ns = [] {
    if (const char* env = std::getenv("NEWTON_POOL_SPIN_US")) {
      char* end = nullptr;
      const long us = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && us >= 0 && us <= 1000000) return static_cast<int64_t>(us) * 1000;
    }
    return kDefaultSpinUs * 1000;
  }();
  return ns;
}

// Polls ready() for up to spin_ns(); true as soon as it holds. Between polls the thread
// yields its core, and it stops polling at the first yield that took longer than
// kContendedYieldNs: then another thread wanted the core, and the machine is better served by
// sleeping. Measured on a 2-core KVM guest (`npm run bench -- ops --pool`, back-to-back
// add/relu of 2 × 16384 floats): when otherwise idle, 82–92 µs per op without polling (waking
// a thread through the kernel costs tens of µs there) and 12–15 µs with it; with a load of 8
// from other processes, polling with _mm_pause made them take ≈215 µs instead of ≈22 µs (the
// pollers lose the scheduler's preference for threads that sleep), which the yields and the
// contended-yield stop avoid (≈20 µs).
constexpr int64_t kContendedYieldNs = 20000;

template <typename Ready>
bool spin_until(const Ready& ready) {
  const int64_t limit = spin_ns();
  if (limit == 0) return ready();
  using Clock = std::chrono::steady_clock;
  const auto ns = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); };
  const auto start = Clock::now();
  auto before = start;
  for (;;) {
    if (ready()) return true;
    std::this_thread::yield();
    const auto now = Clock::now();
    if (ns(now - start) >= limit || ns(now - before) >= kContendedYieldNs) return ready();
    before = now;
  }
}

// One job runs at a time (guarded by run_mutex), which is all the CPU backend needs: ops
// run one after another on the thread that called them.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    stop_workers();
    stopping_.store(false);
    // New workers must only react to jobs posted after they start.
    const uint64_t current = job_.load() >> kChunkBits;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i, current] { worker_loop(i, current); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
    const int chunks = static_cast<int>(std::min<int64_t>(size(), max_chunks));
    if (chunks <= 1) {
      run_serial(n, body);
      return;
    }
    body_ = &body;
    n_ = n;
    chunks_ = chunks;
    pending_.store(chunks - 1, std::memory_order_relaxed);
    const uint64_t generation = (job_.load(std::memory_order_relaxed) >> kChunkBits) + 1;
    job_.store((generation << kChunkBits) | static_cast<uint64_t>(chunks), std::memory_order_release);
    {
      // Under the mutex: a worker checks job_ and goes to sleep while holding it, so it either
      // sees the new job or is counted in sleepers_ and woken here.
      std::lock_guard<std::mutex> lock(mutex_);
      if (sleepers_ > 0) wake_.notify_all();
    }
    run_chunk(0);
    // Every chunk finishes before `body` (the caller's) goes out of scope, even when one threw;
    // the first exception is then rethrown here, on the caller's thread. (An exception leaving
    // a worker thread would abort the process.)
    const auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    std::exception_ptr error;
    {
      const bool done = spin_until(all_done);
      std::unique_lock<std::mutex> lock(mutex_);
      if (!done) done_.wait(lock, all_done);
      body_ = nullptr;
      error = error_;
      error_ = nullptr;
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  static void run_serial(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
    RegionGuard region;
    body(0, n);
  }

  void run_chunk(int index) noexcept {
    const int64_t begin = n_ * index / chunks_;
    const int64_t end = n_ * (index + 1) / chunks_;
    RegionGuard region;
    try {
      if (begin < end) (*body_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      uint64_t job = 0;
      const auto posted = [&] {
        job = job_.load(std::memory_order_acquire);
        return stopping_.load(std::memory_order_relaxed) || (job >> kChunkBits) != seen;
      };
      if (!spin_until(posted)) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, posted);
        --sleepers_;
      }
      if (stopping_.load(std::memory_order_relaxed)) return;
      seen = job >> kChunkBits;
      if (index >= static_cast<int>(job & ((uint64_t{1} << kChunkBits) - 1))) continue;
      run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Under the mutex, so that the notification cannot fall between the caller's check
        // of pending_ and its wait.
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex run_mutex_;
  std::mutex mutex_;  // guards sleepers_ and error_, and pairs with the condition variables
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  // The current job (note [spinning pool]): written by the caller before job_ is published.
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
  std::atomic<uint64_t> job_{0};
  std::atomic<int> pending_{0};  // chunks of the current job that workers have yet to finish
  std::exception_ptr error_;      // the first exception of the current job's chunks
  int sleepers_ = 0;
  std::atomic<bool> stopping_{false};
};

ThreadPool& pool() {
  // Leaked on purpose: joining threads during static destruction at process exit can
  // deadlock inside Node's teardown.
  static ThreadPool* instance = [] {
    const int threads = default_thread_count();
#ifdef NEWTON_HAVE_OPENBLAS
    openblas_set_num_threads(1);  // see note [single-threaded BLAS]
#endif
    return new ThreadPool(threads);
  }();
  return *instance;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 256) fail<ValueError>("setNumThreads: n must be an integer in [1, 256], got ", n);
  pool().resize(n);
#ifdef NEWTON_HAVE_OPENBLAS
  openblas_set_num_threads(1);  // see note [single-threaded BLAS]
#endif
}

bool in_parallel_region() { return t_in_region; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  if (t_in_region) {
    body(0, n);
    return;
  }
  pool().run(n, grain, body);
}

}  // namespace newton
