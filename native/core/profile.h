// The profiler: per-kernel timings, shapes, bytes and FLOPs, and named scopes, for the
// per-op table (profile_report.cpp) and the Chrome trace (profile_trace.cpp).
//
// Note [profiler cost]
// ~~~~~~~~~~~~~~~~~~~~
// Off (the default), the only cost is one relaxed atomic load and a branch in every kernel
// launch (`launch` in op.h) and in `backend_running`: nothing is allocated, formatted or
// timed. On, each launch appends one OpRecord under a mutex (its shapes formatted as a
// string) and asks the backend for its timing (note [profiler hooks] in backend.h); a few
// microseconds per op, against ops of tens of microseconds to milliseconds in training
// (`npm run bench -- profile` measures the difference on the cnn3 SGD step).
//
// Only the kernels are timed, not the ops' checks and allocations: the time between two
// kernels of a scope shows up as the scope's time not covered by ops. A kernel launched
// while another is being timed on the same thread (a kernel that runs ops itself) is
// counted in the outer one only, so the op times of one thread never overlap.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "tensor.h"

namespace newton {
namespace profile {

namespace detail {
extern std::atomic<bool> g_enabled;
}  // namespace detail

// Whether a session is running (note [profiler cost]).
inline bool enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }

// Starts a session, discarding the records of the previous one. Throws Error when one runs.
void start();
// Ends the session (scopes still open are closed now); its records stay for report/trace.
// Throws Error when none runs.
void stop();
// Opens / closes a named scope on the calling thread (scopes nest per thread). No-ops when
// profiling is off; closing with none open throws Error naming `op`.
void push_scope(const std::string& name);
void pop_scope(const char* op = "profileScopePop");

// The op that is running its kernels on this thread (set by backend_running while on), so a
// composite's kernels say whose they are: gemm launched by linear is "gemm" in "linear".
void set_caller(const char* op);

// One timed kernel launch.
struct OpRecord {
  const char* name;    // the kernel's op (static)
  const char* caller;  // the op whose run() launched it (static), or nullptr
  Backend* backend;
  uint32_t thread;  // small id of the host thread (1, 2, ...)
  std::string shapes;
  double bytes = 0;   // of every tensor argument: each input read once, each output written once
  double flops = -1;  // -1: not defined for this op
  ProfileTiming timing;
};

struct ScopeRecord {
  std::string name;
  uint32_t thread;
  int depth;  // 0: outermost
  int64_t start_ns, end_ns;
};

// The resolved records of the last (or current) session, times on steady_clock.
struct Session {
  int64_t start_ns = 0, end_ns = 0;
  std::vector<OpRecord> ops;
  std::vector<ScopeRecord> scopes;
};
// Resolves device timings (waits for the devices' events, once) and returns a copy.
Session snapshot();

// Times one kernel launch while alive (op.h's `launch` makes one only when enabled()).
class OpTimer {
 public:
  OpTimer(Backend& backend, const char* name, std::string shapes, double bytes, double flops);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  Backend& backend_;
  bool outer_;
  OpRecord record_;
};

// --- outputs -------------------------------------------------------------------------

// The machine's reference rates for a device, measured once per process (profile_report.cpp):
// float32 GEMM of 1024³ and a copy of 64 MiB, best of a few runs.
struct MachineRates {
  double gemm_gflops = 0;
  double copy_gbps = 0;  // bytes read + written per second / 1e9
};
MachineRates machine_rates(Device device);

// One line of the per-op table: the kernels of one op name, caller and device.
struct OpSummary {
  std::string name, caller, device;
  int64_t calls = 0;
  double total_ms = 0, mean_ms = 0, percent = 0;  // percent of the session's wall time
  double gflops = -1, gbps = 0;                   // achieved; gflops -1 when undefined
  double gemm_fraction = -1, copy_fraction = 0;   // of machine_rates(device)
};
struct ScopeSummary {
  std::string path;  // "train/step/cg" (nested names joined by '/')
  int64_t calls = 0;
  double total_ms = 0, percent = 0;
};
struct Report {
  double wall_ms = 0;     // the session, start to stop (or to now while running)
  double op_ms = 0;       // Σ op times (the host thread's and each stream's)
  std::vector<OpSummary> ops;        // by total time, largest first
  std::vector<ScopeSummary> scopes;  // in order of first opening
  std::vector<std::pair<std::string, MachineRates>> rates;  // per device seen
};
// `with_rates` false skips measuring the machine (the fractions stay -1/0).
Report report(bool with_rates = true);
// The per-op and per-scope tables as fixed-width text.
std::string format_table(const Report& r);
// Writes the session as Chrome trace-event JSON (Perfetto, chrome://tracing) to `path`.
// Throws Error naming `op` and the path when it cannot be written.
void write_trace(const std::string& path, const char* op = "profileWriteTrace");
// The same JSON as a string.
std::string trace_json();

}  // namespace profile
}  // namespace newton
