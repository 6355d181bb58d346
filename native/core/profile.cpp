// The profiler's session: records of kernel launches and scopes (profile.h).
#include "profile.h"

#include <mutex>

#include "error.h"
#include "registry.h"

namespace newton {
namespace profile {
namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {

struct State {
  std::mutex mutex;
  bool running = false;
  Session session;
  std::vector<Backend*> backends;  // those whose hooks were told about the session
};

State& state() {
  static State* s = new State();  // leaked: records may be read while the process exits
  return *s;
}

std::atomic<uint32_t> g_next_thread{1};

struct ThreadState {
  uint32_t id = g_next_thread.fetch_add(1);
  std::vector<std::size_t> open_scopes;  // indices into session.scopes
  int op_depth = 0;                      // kernels being timed on this thread
  const char* caller = nullptr;
};
thread_local ThreadState t_thread;

}  // namespace

void set_caller(const char* op) { t_thread.caller = op; }

void start() {
  State& s = state();
  std::vector<Backend*> backends = registered_backends();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.running) fail<Error>("profileStart: a profiling session is already running (call profileStop first)");
    s.session = Session{};
    s.session.ops.reserve(4096);
    s.backends = backends;
    s.running = true;
  }
  for (Backend* b : backends) b->profile_session_begin();
  t_thread.open_scopes.clear();
  state().session.start_ns = host_clock_ns();
  detail::g_enabled.store(true, std::memory_order_relaxed);
}

void stop() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.running) fail<Error>("profileStop: no profiling session is running (call profileStart first)");
  detail::g_enabled.store(false, std::memory_order_relaxed);
  s.running = false;
  s.session.end_ns = host_clock_ns();
  for (ScopeRecord& sc : s.session.scopes) {
    if (sc.end_ns == 0) sc.end_ns = s.session.end_ns;
  }
  t_thread.open_scopes.clear();
}

void push_scope(const std::string& name) {
  if (!enabled()) return;
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.session.scopes.push_back(ScopeRecord{name, t_thread.id, static_cast<int>(t_thread.open_scopes.size()),
                                           host_clock_ns(), 0});
    t_thread.open_scopes.push_back(s.session.scopes.size() - 1);
  }
  for (Backend* b : s.backends) b->profile_range_push(name.c_str());
}

void pop_scope(const char* op) {
  if (!enabled()) return;
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (t_thread.open_scopes.empty()) fail<Error>(op, ": no profiler scope is open on this thread");
    s.session.scopes[t_thread.open_scopes.back()].end_ns = host_clock_ns();
    t_thread.open_scopes.pop_back();
  }
  for (Backend* b : s.backends) b->profile_range_pop();
}

OpTimer::OpTimer(Backend& backend, const char* name, std::string shapes, double bytes, double flops)
    : backend_(backend), outer_(t_thread.op_depth++ == 0) {
  if (!outer_) return;
  const char* caller = t_thread.caller;
  if (caller != nullptr && std::string_view(caller) == name) caller = nullptr;
  record_ = OpRecord{name, caller, &backend, t_thread.id, std::move(shapes), bytes, flops, ProfileTiming{}};
  backend_.profile_op_begin(name, record_.timing);
}

OpTimer::~OpTimer() {
  --t_thread.op_depth;
  if (!outer_) return;
  backend_.profile_op_end(record_.timing);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.running) s.session.ops.push_back(std::move(record_));
}

Session snapshot() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (OpRecord& r : s.session.ops) {
    if (r.timing.start_event >= 0) r.backend->profile_resolve(r.timing);
  }
  Session copy = s.session;
  if (s.running) copy.end_ns = host_clock_ns();
  for (ScopeRecord& sc : copy.scopes) {
    if (sc.end_ns == 0) sc.end_ns = copy.end_ns;
  }
  return copy;
}

}  // namespace profile
}  // namespace newton
