#include "parallel.h"

#include <algorithm>
#include <atomic>
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

// Workers wait for a job generation number to change, run their chunk, and count down.
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
    stopping_ = false;
    // New workers must only react to jobs posted after they start.
    const uint64_t current = generation_;
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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      n_ = n;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    run_chunk(0);
    // Every chunk finishes before `body` (the caller's) goes out of scope, even when one threw;
    // the first exception is then rethrown here, on the caller's thread. (An exception leaving
    // a worker thread would abort the process.)
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_ == 0; });
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
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= chunks_) continue;
      }
      run_chunk(index);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  std::exception_ptr error_;  // the first exception of the current job's chunks
  int64_t n_ = 0;
  int chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
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
