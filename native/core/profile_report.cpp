// The profiler's per-op table and the machine rates it is compared with (profile.h).
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

#include "ops.h"
#include "profile.h"

namespace newton {
namespace profile {

namespace {

// Best of `reps` timed runs of `fn` in seconds, after one warm-up; waits for the device.
template <typename Fn>
double best_seconds(Backend& b, int reps, Fn fn) {
  fn();
  b.synchronize();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const int64_t t0 = host_clock_ns();
    fn();
    b.synchronize();
    best = std::min(best, (host_clock_ns() - t0) * 1e-9);
  }
  return best;
}

MachineRates measure(Device device) {
  // Measured with the profiler switched off for this thread's launches (they would be
  // recorded into the session otherwise): the timers check enabled() only at launch.
  const bool was = enabled();
  detail::g_enabled.store(false, std::memory_order_relaxed);
  MachineRates r;
  try {
    Backend& b = backend_for(device);
    const int64_t n = 1024;
    Tensor a = ops::full("profile", {n, n}, 0.5, DType::F32, device);
    Tensor c = ops::full("profile", {n, n}, 0.25, DType::F32, device);
    const double gemm_s = best_seconds(b, 3, [&] { ops::Gemm::run(a, c, ops::GemmOptions{}); });
    r.gemm_gflops = 2.0 * n * n * n / gemm_s * 1e-9;
    const int64_t count = 16 << 20;  // 64 MiB of float32
    Tensor src = ops::full("profile", {count}, 1.0, DType::F32, device);
    Tensor dst = ops::empty("profile", {count}, DType::F32, device);
    const double copy_s = best_seconds(b, 5, [&] { ops::Copy::run(dst, src); });
    r.copy_gbps = 2.0 * static_cast<double>(src.nbytes()) / copy_s * 1e-9;
  } catch (...) {
    detail::g_enabled.store(was, std::memory_order_relaxed);
    throw;
  }
  detail::g_enabled.store(was, std::memory_order_relaxed);
  return r;
}

}  // namespace

MachineRates machine_rates(Device device) {
  static std::mutex mutex;
  static std::map<std::string, MachineRates> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(device.name());
  if (it != cache.end()) return it->second;
  const MachineRates r = measure(device);
  cache.emplace(device.name(), r);
  return r;
}

Report report(bool with_rates) {
  const Session s = snapshot();
  Report r;
  r.wall_ms = (s.end_ns - s.start_ns) * 1e-6;
  struct Acc {
    int64_t calls = 0;
    double ns = 0, bytes = 0, flops = 0;
    bool flops_defined = true;
    Device device;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Acc> by_op;
  for (const OpRecord& o : s.ops) {
    const Device d = o.backend->device();
    Acc& a = by_op[{o.name, o.caller ? o.caller : "", d.name()}];
    a.device = d;
    a.calls += 1;
    a.ns += static_cast<double>(o.timing.end_ns - o.timing.start_ns);
    a.bytes += o.bytes;
    if (o.flops < 0) a.flops_defined = false;
    else a.flops += o.flops;
  }
  std::map<std::string, MachineRates> rates;
  for (auto& [key, a] : by_op) {
    const std::string& dev = std::get<2>(key);
    if (with_rates && !rates.count(dev)) rates[dev] = machine_rates(a.device);
    OpSummary o;
    o.name = std::get<0>(key);
    o.caller = std::get<1>(key);
    o.device = dev;
    o.calls = a.calls;
    o.total_ms = a.ns * 1e-6;
    o.mean_ms = o.total_ms / static_cast<double>(a.calls);
    o.percent = r.wall_ms > 0 ? 100.0 * o.total_ms / r.wall_ms : 0;
    const double seconds = a.ns * 1e-9;
    if (seconds > 0) {
      o.gbps = a.bytes / seconds * 1e-9;
      if (a.flops_defined && a.flops > 0) o.gflops = a.flops / seconds * 1e-9;
    }
    if (with_rates) {
      const MachineRates& m = rates[dev];
      if (o.gflops >= 0 && m.gemm_gflops > 0) o.gemm_fraction = o.gflops / m.gemm_gflops;
      if (m.copy_gbps > 0) o.copy_fraction = o.gbps / m.copy_gbps;
    }
    r.op_ms += o.total_ms;
    r.ops.push_back(o);
  }
  std::sort(r.ops.begin(), r.ops.end(), [](const OpSummary& x, const OpSummary& y) { return x.total_ms > y.total_ms; });
  for (auto& [dev, m] : rates) r.rates.emplace_back(dev, m);

  // Scopes by path: the names of the enclosing scopes of the same thread, joined by '/'.
  std::map<uint32_t, std::vector<std::string>> stacks;
  std::map<std::string, std::size_t> index;
  for (const ScopeRecord& sc : s.scopes) {
    std::vector<std::string>& stack = stacks[sc.thread];
    stack.resize(static_cast<std::size_t>(sc.depth));
    stack.push_back(sc.name);
    std::string path;
    for (const std::string& part : stack) path += (path.empty() ? "" : "/") + part;
    auto it = index.find(path);
    if (it == index.end()) {
      it = index.emplace(path, r.scopes.size()).first;
      r.scopes.push_back(ScopeSummary{path, 0, 0, 0});
    }
    ScopeSummary& out = r.scopes[it->second];
    out.calls += 1;
    out.total_ms += (sc.end_ns - sc.start_ns) * 1e-6;
  }
  for (ScopeSummary& sc : r.scopes) sc.percent = r.wall_ms > 0 ? 100.0 * sc.total_ms / r.wall_ms : 0;
  return r;
}

std::string format_table(const Report& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "profile: %.1f ms of wall time, %.1f ms in %zu kinds of op\n", r.wall_ms, r.op_ms,
                r.ops.size());
  out += line;
  for (const auto& [dev, m] : r.rates) {
    std::snprintf(line, sizeof line, "  %s: SGEMM 1024^3 %.1f GFLOP/s, copy %.1f GB/s (measured once)\n", dev.c_str(),
                  m.gemm_gflops, m.copy_gbps);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-44s %-7s %7s %11s %10s %7s %18s %16s\n", "op (in caller)", "device", "calls",
                "total ms", "mean ms", "% run", "GFLOP/s (% GEMM)", "GB/s (% copy)");
  out += line;
  for (const OpSummary& o : r.ops) {
    const std::string label = o.caller.empty() ? o.name : o.name + " (in " + o.caller + ")";
    char flops[64] = "-", bytes[64];
    if (o.gflops >= 0) {
      if (o.gemm_fraction >= 0) std::snprintf(flops, sizeof flops, "%.1f (%.0f%%)", o.gflops, 100 * o.gemm_fraction);
      else std::snprintf(flops, sizeof flops, "%.1f", o.gflops);
    }
    if (o.copy_fraction > 0) std::snprintf(bytes, sizeof bytes, "%.2f (%.0f%%)", o.gbps, 100 * o.copy_fraction);
    else std::snprintf(bytes, sizeof bytes, "%.2f", o.gbps);
    std::snprintf(line, sizeof line, "%-44s %-7s %7lld %11.3f %10.4f %6.1f%% %18s %16s\n", label.c_str(),
                  o.device.c_str(), static_cast<long long>(o.calls), o.total_ms, o.mean_ms, o.percent, flops, bytes);
    out += line;
  }
  if (!r.scopes.empty()) {
    std::snprintf(line, sizeof line, "%-48s %7s %11s %7s\n", "scope", "calls", "total ms", "% run");
    out += line;
    for (const ScopeSummary& sc : r.scopes) {
      std::snprintf(line, sizeof line, "%-48s %7lld %11.3f %6.1f%%\n", sc.path.c_str(),
                    static_cast<long long>(sc.calls), sc.total_ms, sc.percent);
      out += line;
    }
  }
  return out;
}

}  // namespace profile
}  // namespace newton
