// The NCCL communicator: note [communicators] in native/core/comm.h, "NCCL" (why the
// communicator is non-blocking, how a call waits, what a timeout does).
#include "comm_nccl.h"

#include <cstring>
#include <string>

#include "core/error.h"

#if defined(NEWTON_HAVE_NCCL)
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "check.h"
#endif

namespace newton {
namespace cuda {

#if !defined(NEWTON_HAVE_NCCL)

namespace {
constexpr const char* kNoNccl =
    "this build has no NCCL (install the nvidia-nccl-cu13 wheel: scripts/install-cuda-wheels.sh)";
}  // namespace

std::string nccl_version() { throw Error(kNoNccl); }
void nccl_unique_id(void*, std::size_t) { throw Error(kNoNccl); }
Communicator* create_nccl_communicator(CudaBackend&, const void*, std::size_t, int, int, int, int, double,
                                       const char* fn) {
  fail<Error>(fn, ": ", kNoNccl);
}

#else  // NEWTON_HAVE_NCCL

static_assert(sizeof(ncclUniqueId) == kNcclUniqueIdBytes, "the core passes NCCL_UNIQUE_ID_BYTES bytes");

namespace {

using Clock = std::chrono::steady_clock;

// Timeouts are kept below this (about 32 years), so that a deadline never overflows.
constexpr double kMaxTimeoutSeconds = 1e9;

Clock::time_point deadline_after(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::min(seconds, kMaxTimeoutSeconds)));
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ncclGetErrorString's text, and ncclGetLastError's where NCCL left one (it names the cause:
// "remote process exited or there was a network error", …). Read before ncclCommAbort.
std::string result_text(ncclResult_t rc, ncclComm_t comm) {
  std::string text = ncclGetErrorString(rc);
  const char* last = ncclGetLastError(comm);
  if (last != nullptr && last[0] != '\0') text += ": " + std::string(last);
  return text;
}

// The pauses of a polling loop: yields first (a small collective between the GPUs of one host
// completes in tens of microseconds), then sleeps growing to 1 ms, so that a long wait does not
// take a whole core from the other ranks of the host.
class Backoff {
 public:
  void pause() {
    if (polls_ < 200) {
      ++polls_;
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
    sleep_us_ = std::min(sleep_us_ * 2, 1000);
  }

 private:
  int polls_ = 0;
  int sleep_us_ = 20;
};

// "rank 1 of 2" in messages.
std::string rank_text(int rank, int size) { return "rank " + std::to_string(rank) + " of " + std::to_string(size); }

// Waits until a non-blocking communicator's state leaves ncclInProgress (an initialisation, or
// a call that has not been queued yet) or `deadline` passes; returns the state, or
// ncclInProgress at the deadline.
ncclResult_t wait_state(ncclComm_t comm, Clock::time_point deadline) {
  Backoff backoff;
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t rc = ncclCommGetAsyncError(comm, &state);
    if (rc != ncclSuccess) return rc;
    if (state != ncclInProgress) return state;
    if (Clock::now() >= deadline) return ncclInProgress;
    backoff.pause();
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(CudaBackend& backend, ncclComm_t comm, int rank, int size, int local_rank, int local_size,
                   double timeout_seconds)
      : backend_(backend), comm_(comm), rank_(rank), size_(size), local_rank_(local_rank), local_size_(local_size),
        timeout_(timeout_seconds), library_(nccl_version()) {
    const char* op = "ncclInit";  // the only caller
    NEWTON_CUDA_CHECK(op, cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    NEWTON_CUDA_CHECK(op, cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    NEWTON_CUDA_CHECK(op, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    NEWTON_CUDA_CHECK(op, cudaMalloc(&scratch_, sizeof(float)));
    NEWTON_CUDA_CHECK(op, cudaMemsetAsync(scratch_, 0, sizeof(float), backend_.stream()));
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const std::string& library() const override { return library_; }
  std::string name() const override { return "NCCL (" + library_ + ")"; }
  Device device() const override { return backend_.device(); }
  void set_timeout(double seconds) override {
    std::lock_guard<std::mutex> lock(mutex_);
    timeout_ = seconds;
  }

  // In place (sendbuff == recvbuff), on the communicator's stream, after the kernels that made the
  // data (run: the stream waits for the backend's).
  void all_reduce_sum(float* data, std::size_t n, const char* fn) override {
    run(fn, "ncclAllReduce", [&] { return ncclAllReduce(data, data, n, ncclFloat32, ncclSum, comm_, stream_); });
  }
  void all_reduce_sum(double* data, std::size_t n, const char* fn) override {
    run(fn, "ncclAllReduce", [&] { return ncclAllReduce(data, data, n, ncclFloat64, ncclSum, comm_, stream_); });
  }
  void broadcast(void* data, std::size_t bytes, int root, const char* fn) override {
    run(fn, "ncclBroadcast",
        [&] { return ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_); });
  }
  // send and recv in device memory (the checked collectives exchange their descriptions over MPI).
  void all_gather(const void* send, std::size_t bytes, void* recv, const char* fn) override {
    run(fn, "ncclAllGather", [&] { return ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream_); });
  }
  // An all-reduce of one float: done on every rank only once every rank has called it.
  void barrier(const char* fn) override {
    run(fn, "ncclAllReduce (barrier)",
        [&] { return ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, comm_, stream_); });
  }

  // At process exit: ncclCommAbort frees the communicator without waiting for the other ranks
  // (ncclCommDestroy could, on a rank that died). Every collective has completed by then: each
  // call waits for its own.
  void abort_at_exit() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_.empty()) abort("the process exited");
  }

 private:
  // Queues one NCCL call, then waits for it (note [communicators], "NCCL"). Throws Error (and
  // aborts the communicator) on an NCCL error, a CUDA error of the stream, or the timeout.
  template <typename Enqueue>
  void run(const char* fn, const char* call, Enqueue enqueue) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!aborted_.empty()) {
      fail<Error>(fn, ": the NCCL communicator of ", rank_text(rank_, size_), " was aborted (", aborted_,
                  "); an NCCL communicator cannot be used again after an error or a timeout: restart the job");
    }
    backend_.set_device();
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = deadline_after(timeout_);
    // NCCL runs on a stream of its own, after everything queued on the backend's stream so far
    // (the kernels that wrote the data); the backend's stream goes on meanwhile — the kernels the
    // main thread launches while a gradient bucket is summed (core/comm_queue.h).
    const cudaError_t ordered = cudaEventRecord(ready_, backend_.stream());
    if (ordered != cudaSuccess) cuda_failed(fn, call, ordered);
    const cudaError_t waits = cudaStreamWaitEvent(stream_, ready_, 0);
    if (waits != cudaSuccess) cuda_failed(fn, call, waits);
    ncclResult_t rc = enqueue();
    // Non-blocking: the call may return before the operation is queued; it is queued once the
    // communicator's state leaves ncclInProgress.
    if (rc == ncclInProgress) rc = wait_state(comm_, deadline);
    if (rc == ncclInProgress) timed_out(fn, call, start);
    if (rc != ncclSuccess) nccl_failed(fn, call, rc);
    const cudaError_t recorded = cudaEventRecord(done_, stream_);
    if (recorded != cudaSuccess) cuda_failed(fn, call, recorded);
    Backoff backoff;
    for (;;) {
      const cudaError_t q = cudaEventQuery(done_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) cuda_failed(fn, call, q);
      ncclResult_t state = ncclSuccess;
      const ncclResult_t got = ncclCommGetAsyncError(comm_, &state);
      if (got != ncclSuccess) nccl_failed(fn, call, got);
      if (state != ncclSuccess && state != ncclInProgress) nccl_failed(fn, call, state);
      if (Clock::now() >= deadline) timed_out(fn, call, start);
      backoff.pause();
    }
  }

  // ncclCommAbort ends the communicator's kernels and frees it; `why` is kept for later calls.
  // Called with the mutex held.
  void abort(const std::string& why) {
    aborted_ = why;
    ncclCommAbort(comm_);  // its own errors change nothing: the communicator is gone either way
  }

  [[noreturn]] void nccl_failed(const char* fn, const char* call, ncclResult_t rc) {
    const std::string text = result_text(rc, comm_);
    abort(std::string(call) + " failed");
    fail<Error>(fn, ": ", call, " failed on ", rank_text(rank_, size_), ": ", text,
                "; the NCCL communicator was aborted (set NCCL_DEBUG=WARN for NCCL's own account)");
  }

  [[noreturn]] void cuda_failed(const char* fn, const char* call, cudaError_t status) {
    cudaGetLastError();
    abort(std::string("a CUDA error during ") + call);
    fail<Error>(fn, ": CUDA error ", cuda_error_text(status), " while waiting for ", call, " on ",
                rank_text(rank_, size_), "; the NCCL communicator was aborted");
  }

  [[noreturn]] void timed_out(const char* fn, const char* call, Clock::time_point start) {
    const double waited = std::round(seconds_since(start) * 10) / 10;
    abort(std::string(call) + " timed out");
    fail<Error>(fn, ": ", rank_text(rank_, size_), ": ", call, " has waited ", waited,
                " s for the other ranks (one has died or hangs; the timeout is ", timeout_,
                " s); the NCCL communicator was aborted");
  }

  CudaBackend& backend_;
  ncclComm_t comm_;
  const int rank_, size_, local_rank_, local_size_;
  double timeout_;
  const std::string library_;
  std::mutex mutex_;
  std::string aborted_;  // why the communicator was aborted; empty while it is usable
  cudaEvent_t done_ = nullptr;   // the call's end, on stream_
  cudaEvent_t ready_ = nullptr;  // the backend stream's work before the call
  cudaStream_t stream_ = nullptr;  // NCCL's (never destroyed, like the communicator)
  float* scratch_ = nullptr;  // the barrier's float, on the device
};

// The communicator to abort at exit (there is at most one per process: the core makes it once).
std::atomic<NcclCommunicator*> g_communicator{nullptr};

void abort_at_exit() {
  if (NcclCommunicator* c = g_communicator.load()) c->abort_at_exit();
}

}  // namespace

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) throw Error("ncclGetVersion failed");
  // Since NCCL 2.9: major·10000 + minor·100 + patch.
  return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

void nccl_unique_id(void* id, std::size_t bytes) {
  if (bytes != sizeof(ncclUniqueId)) fail<Error>("ncclGetUniqueId: expected a buffer of ", sizeof(ncclUniqueId), " bytes");
  ncclUniqueId uid;
  const ncclResult_t rc = ncclGetUniqueId(&uid);
  if (rc != ncclSuccess) fail<Error>("ncclGetUniqueId failed on rank 0: ", ncclGetErrorString(rc));
  std::memcpy(id, &uid, sizeof(uid));
}

Communicator* create_nccl_communicator(CudaBackend& backend, const void* id, std::size_t id_bytes, int rank, int size,
                                       int local_rank, int local_size, double timeout_seconds, const char* fn) {
  const char* call = "ncclCommInitRankConfig";
  if (id_bytes != sizeof(ncclUniqueId)) fail<Error>(fn, ": expected an NCCL id of ", sizeof(ncclUniqueId), " bytes");
  ncclUniqueId uid;
  std::memcpy(&uid, id, sizeof(uid));
  // ncclCommInitRankConfig takes the current device.
  backend.set_device();
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // note [communicators], "NCCL": no call may block past the timeout
  ncclComm_t comm = nullptr;
  const Clock::time_point start = Clock::now();
  ncclResult_t rc = ncclCommInitRankConfig(&comm, size, uid, rank, &config);
  if (rc == ncclInProgress && comm != nullptr) rc = wait_state(comm, deadline_after(timeout_seconds));
  if (rc == ncclInProgress) {
    if (comm != nullptr) ncclCommAbort(comm);
    fail<Error>(fn, ": ", rank_text(rank, size), ": ", call, " on cuda:", backend.index(), " has waited ",
                std::round(seconds_since(start) * 10) / 10, " s for the other ranks (one has died, hangs, or did not "
                "call ncclInit; the timeout is ", timeout_seconds, " s); NCCL was not initialised");
  }
  if (rc != ncclSuccess) {
    const std::string text = result_text(rc, comm);
    if (comm != nullptr) ncclCommAbort(comm);
    fail<Error>(fn, ": ", call, " failed on ", rank_text(rank, size), " (cuda:", backend.index(), "): ", text,
                " (set NCCL_DEBUG=WARN for NCCL's own account)");
  }
  NcclCommunicator* c = nullptr;
  try {
    c = new NcclCommunicator(backend, comm, rank, size, local_rank, local_size, timeout_seconds);
  } catch (...) {
    ncclCommAbort(comm);
    throw;
  }
  // NCCL connects the ranks at the first collective: make it here, under the timeout (on an
  // error c has aborted itself; it is left, unusable, for the process's life).
  c->barrier(fn);
  g_communicator.store(c);
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(abort_at_exit); });
  return c;
}

#endif  // NEWTON_HAVE_NCCL

}  // namespace cuda
}  // namespace newton
