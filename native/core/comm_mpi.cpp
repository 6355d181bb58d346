// The MPI Communicator and its timeout watchdog: note [communicators] in comm.h. Compiled in
// every build; without NEWTON_HAVE_MPI every function says that the build has no MPI.
#include "comm.h"

#include <string>

#include "error.h"

#if defined(NEWTON_HAVE_MPI)
// The C API only: Open MPI's and MPICH's mpi.h would otherwise pull in their deprecated C++
// bindings, which live in another library (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#endif

namespace newton {

#if !defined(NEWTON_HAVE_MPI)

namespace {
constexpr const char* kNoMpi = "this build has no MPI (install libopenmpi-dev and rebuild)";
}  // namespace

MpiInfo mpi_info() {
  MpiInfo info;
  info.reason = kNoMpi;
  return info;
}

Communicator& mpi_communicator(double, const char* fn) { fail<Error>(fn, ": ", kNoMpi); }

Communicator& initialized_mpi_communicator(const char* fn) { fail<Error>(fn, ": ", kNoMpi); }

#else  // NEWTON_HAVE_MPI

namespace {

// Exit status of a job the watchdog ends (EX_SOFTWARE).
constexpr int kAbortStatus = 70;
// Elements (or bytes) per MPI call: MPI's counts are ints.
constexpr std::size_t kChunk = std::size_t(1) << 30;
// Timeouts are kept below this (about 32 years), so that a deadline never overflows.
constexpr double kMaxTimeoutSeconds = 1e9;

// "Open MPI v4.1.4, package: Debian OpenMPI, …" -> "Open MPI 4.1.4";
// "MPICH Version:\t4.0.2\nMPICH Release date: …" -> "MPICH 4.0.2".
std::string short_library_name(std::string text) {
  text = text.substr(0, text.find_first_of("\n,"));
  const std::size_t version = text.find("Version:");
  if (version != std::string::npos) text.erase(version, 8);
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool space = c == ' ' || c == '\t' || c == '\r' || c == '\0';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    // " v4.1.4" -> " 4.1.4"
    if (c == 'v' && (out.empty() || out.back() == ' ') && i + 1 < text.size() && text[i + 1] >= '0' &&
        text[i + 1] <= '9') {
      continue;
    }
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string query_library_name() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING + 1] = {};
  int length = 0;
  std::string name;
  if (MPI_Get_library_version(text, &length) == MPI_SUCCESS) {
    name = short_library_name(std::string(text, static_cast<std::size_t>(std::clamp(length, 0, MPI_MAX_LIBRARY_VERSION_STRING))));
  }
  if (name.empty()) {
    int major = 0, minor = 0;
    MPI_Get_version(&major, &minor);
    name = "MPI " + std::to_string(major) + "." + std::to_string(minor);
  }
  return name;
}

// Asked once (MPI_Get_library_version may be called before MPI_Init, but not necessarily from
// any thread while another is in a collective).
const std::string& library_name() {
  static const std::string name = query_library_name();
  return name;
}

// MPI_Error_string's text for an error code.
std::string error_text(int code) {
  char text[MPI_MAX_ERROR_STRING + 1] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS || length <= 0) return "MPI error code " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(std::min(length, MPI_MAX_ERROR_STRING)));
}

// Note [communicators]: Open MPI's plugins may need libmpi in the global scope; Node loaded it
// with the addon, locally. Re-open the loaded library (found from one of its functions) with
// RTLD_GLOBAL; RTLD_NOLOAD makes sure that nothing new is loaded. The handle is kept for the
// life of the process. Nothing to do where it fails (a static MPI, or one the program linked
// itself, which is global already).
void promote_mpi_to_global_scope() {
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &where) == 0 || where.dli_fname == nullptr) return;
  static void* handle = nullptr;
  handle = dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  (void)handle;
}

// Note [communicators], "Timeouts": watches one MPI call at a time (there is only ever one: the
// calls are serialised on one thread).
class Watchdog {
 public:
  Watchdog(int rank, int size, double timeout_seconds) : timeout_(timeout_seconds), rank_(rank), size_(size) {
    thread_ = std::thread([this] { run(); });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void set_timeout(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    timeout_ = seconds;
    cv_.notify_one();
  }
  // `call`, `fn`: string literals (or strings that outlive the call).
  void begin(const char* call, const char* fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    call_ = call;
    fn_ = fn;
    started_ = std::chrono::steady_clock::now();
    // Only an idle watchdog needs waking: one waiting for an earlier call's deadline wakes at
    // that (earlier) time and looks again.
    if (idle_) cv_.notify_one();
  }
  void end() {
    std::lock_guard<std::mutex> lock(mutex_);
    call_ = nullptr;
  }

  // Ends the thread (at exit, before MPI_Finalize).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (call_ == nullptr) {
        idle_ = true;
        cv_.wait(lock);
        idle_ = false;
        continue;
      }
      const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(std::min(timeout_, kMaxTimeoutSeconds)));
      const auto deadline = started_ + timeout;
      if (std::chrono::steady_clock::now() < deadline) {
        cv_.wait_until(lock, deadline);
        continue;  // the call may have ended, or another begun: look again
      }
      expire();
    }
  }

  // The call in flight has waited too long: one line to stderr, then end the job. Called with
  // the lock held; never returns.
  [[noreturn]] void expire() {
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const std::string line = "newton-cnn: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
                             call_ + " (" + fn_ + ") has waited " + js_number(std::round(waited * 10) / 10) +
                             " s for the other ranks (one has died or hangs); ending the job\n";
    // One write, so that the lines of several ranks do not interleave.
    const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
    (void)written;
    MPI_Abort(MPI_COMM_WORLD, kAbortStatus);
    // MPI_Abort does not return; should it, end this process: mpirun sees a rank that ended
    // without MPI_Finalize and ends the others.
    std::_Exit(kAbortStatus);
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  double timeout_;
  const int rank_, size_;
  const char* call_ = nullptr;
  const char* fn_ = "";
  std::chrono::steady_clock::time_point started_;
  bool idle_ = false;
  bool stop_ = false;
};

// Watches one MPI call for its duration.
class Watch {
 public:
  Watch(Watchdog& dog, const char* call, const char* fn) : dog_(dog) { dog_.begin(call, fn); }
  ~Watch() { dog_.end(); }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

 private:
  Watchdog& dog_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(Watchdog& dog, int rank, int size, int local_rank, int local_size, std::string library)
      : dog_(dog), rank_(rank), size_(size), local_rank_(local_rank), local_size_(local_size),
        library_(std::move(library)) {}

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const std::string& library() const override { return library_; }
  std::string name() const override { return "MPI (" + library_ + ")"; }
  Device device() const override { return cpu_device(); }
  void set_timeout(double seconds) override { dog_.set_timeout(seconds); }

  void all_reduce_sum(float* data, std::size_t n, const char* fn) override { reduce(data, n, MPI_FLOAT, 4, fn); }
  void all_reduce_sum(double* data, std::size_t n, const char* fn) override { reduce(data, n, MPI_DOUBLE, 8, fn); }

  void broadcast(void* data, std::size_t bytes, int root, const char* fn) override {
    char* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t count = std::min(kChunk, bytes - done);
      int rc = MPI_SUCCESS;
      {
        Watch watch(dog_, "MPI_Bcast", fn);
        rc = MPI_Bcast(p + done, static_cast<int>(count), MPI_BYTE, root, MPI_COMM_WORLD);
      }
      check(rc, "MPI_Bcast", fn);
      done += count;
    }
  }

  void all_gather(const void* send, std::size_t bytes, void* recv, const char* fn) override {
    if (bytes > static_cast<std::size_t>(INT_MAX)) {
      fail<Error>(fn, ": all_gather of ", bytes, " bytes per rank is more than one MPI call sends");
    }
    int rc = MPI_SUCCESS;
    {
      Watch watch(dog_, "MPI_Allgather", fn);
      rc = MPI_Allgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes), MPI_BYTE,
                         MPI_COMM_WORLD);
    }
    check(rc, "MPI_Allgather", fn);
  }

  void barrier(const char* fn) override {
    int rc = MPI_SUCCESS;
    {
      Watch watch(dog_, "MPI_Barrier", fn);
      rc = MPI_Barrier(MPI_COMM_WORLD);
    }
    check(rc, "MPI_Barrier", fn);
  }

  Watchdog& watchdog() { return dog_; }

 private:
  void reduce(void* data, std::size_t n, MPI_Datatype type, std::size_t element_size, const char* fn) {
    char* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < n;) {
      const std::size_t count = std::min(kChunk, n - done);
      int rc = MPI_SUCCESS;
      {
        Watch watch(dog_, "MPI_Allreduce", fn);
        rc = MPI_Allreduce(MPI_IN_PLACE, p + done * element_size, static_cast<int>(count), type, MPI_SUM,
                           MPI_COMM_WORLD);
      }
      check(rc, "MPI_Allreduce", fn);
      done += count;
    }
  }

  void check(int rc, const char* call, const char* fn) const {
    if (rc != MPI_SUCCESS) {
      fail<Error>(fn, ": ", call, " failed on rank ", rank_, " of ", size_, ": ", error_text(rc));
    }
  }

  Watchdog& dog_;
  int rank_, size_, local_rank_, local_size_;
  std::string library_;
};

// The process-wide state; never destroyed (the atexit handler and the watchdog thread use it
// while static objects are being destroyed).
struct State {
  std::mutex mutex;
  std::atomic<MpiCommunicator*> comm{nullptr};
  std::thread::id thread;      // the thread that created comm
  std::string init_error;      // why MPI could not be initialised (then it never can be)
  Watchdog* watchdog = nullptr;
};

State& state() {
  static State* s = new State();
  return *s;
}

// At process exit (std::atexit): the watchdog's thread is stopped, then MPI_Finalize. Not
// watched: it waits for every rank to finish, and a rank that is done must wait as long as
// another works on (rank 0 saving the model); a rank that died is seen by mpirun.
void finalize_at_exit() {
  State& s = state();
  if (s.watchdog) s.watchdog->stop();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void check_thread(const State& s, const char* fn) {
  if (std::this_thread::get_id() != s.thread) {
    fail<Error>(fn, ": MPI collectives run on the thread that called mpiInit (the main JavaScript thread), "
                    "not on this one (a worker thread); make them from the main thread");
  }
}

// MPI_Init_thread and the job's numbers. Called once, under the state's mutex; throws Error
// (and records it in s.init_error) when MPI cannot start.
MpiCommunicator* start(State& s, double timeout_seconds, const char* fn) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) {
    s.init_error = "MPI was finalised already in this process (by another library); it cannot be started again";
    fail<Error>(fn, ": ", s.init_error);
  }
  if (!initialized) {
    promote_mpi_to_global_scope();
    // Not watched (the timeout is for collectives): MPI_Init waits for every rank of the job to
    // start, and a rank that dies before is seen by mpirun. A failure is usually fatal anyway
    // (MPI_ERRORS_ARE_FATAL applies until MPI is initialised: Open MPI then ends the process
    // with its own message).
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
      s.init_error = "MPI_Init_thread failed: " + error_text(rc);
      fail<Error>(fn, ": ", s.init_error);
    }
    std::atexit(finalize_at_exit);
  }
  // From here on an MPI error is returned, not fatal.
  int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rc != MPI_SUCCESS) {
    s.init_error = "MPI_Comm_rank / MPI_Comm_size failed after MPI_Init_thread: " + error_text(rc);
    fail<Error>(fn, ": ", s.init_error);
  }
  s.watchdog = new Watchdog(rank, size, timeout_seconds);
  // The ranks of this host: those that can share memory with this one.
  MPI_Comm local = MPI_COMM_NULL;
  int local_rank = 0, local_size = 1;
  {
    Watch watch(*s.watchdog, "MPI_Comm_split_type", fn);
    rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
  }
  if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(local, &local_rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(local, &local_size);
  if (local != MPI_COMM_NULL) MPI_Comm_free(&local);
  if (rc != MPI_SUCCESS) {
    s.init_error = "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed: " + error_text(rc);
    fail<Error>(fn, ": ", s.init_error);
  }
  return new MpiCommunicator(*s.watchdog, rank, size, local_rank, local_size, library_name());
}

}  // namespace

MpiInfo mpi_info() {
  MpiInfo info;
  info.available = true;
  info.library = library_name();  // MPI_Get_library_version may be called before MPI_Init
  return info;
}

Communicator& mpi_communicator(double timeout_seconds, const char* fn) {
  if (!(std::isfinite(timeout_seconds) && timeout_seconds > 0)) {
    fail<ValueError>(fn, ": timeoutSeconds must be a finite number of seconds > 0, got ", timeout_seconds);
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.init_error.empty()) fail<Error>(fn, ": ", s.init_error);
  if (MpiCommunicator* c = s.comm.load(std::memory_order_acquire)) {
    check_thread(s, fn);
    c->watchdog().set_timeout(timeout_seconds);
    return *c;
  }
  s.thread = std::this_thread::get_id();
  MpiCommunicator* c = start(s, timeout_seconds, fn);
  s.comm.store(c, std::memory_order_release);
  return *c;
}

Communicator& initialized_mpi_communicator(const char* fn) {
  State& s = state();
  MpiCommunicator* c = s.comm.load(std::memory_order_acquire);
  if (c == nullptr) {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.init_error.empty()) fail<Error>(fn, ": MPI could not be initialised: ", s.init_error);
    fail<Error>(fn, ": MPI is not initialised in this process: call mpiInit(timeoutSeconds) first");
  }
  check_thread(s, fn);
  return *c;
}

#endif  // NEWTON_HAVE_MPI

}  // namespace newton
