// The profiler's session as Chrome trace-event JSON (profile.h).
//
// Layout, as Perfetto and chrome://tracing show it: process 1 is the host, with two tracks
// per thread, "thread N scopes" (tid 2N) and "thread N ops" (tid 2N+1), so scopes and the
// kernels inside them sit on their own rows; each device backend with its own track (a CUDA
// stream) is a process of its own (pid 2, 3, ...) with one track per stream. Events are
// complete events ("ph":"X") in microseconds since the session started.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "error.h"
#include "profile.h"

namespace newton {
namespace profile {

namespace {

void json_string(std::ostream& out, const std::string& s) {
  out << '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') out << '\\' << ch;
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out << buf;
    } else out << ch;
  }
  out << '"';
}

void event(std::ostream& out, bool& first, const std::string& name, const char* cat, int pid, int64_t tid,
           double ts_us, double dur_us, const std::string& args) {
  out << (first ? "\n" : ",\n") << "{\"name\":";
  first = false;
  json_string(out, name);
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%lld,\"ts\":%.3f,\"dur\":%.3f", cat, pid,
                static_cast<long long>(tid), ts_us, dur_us);
  out << buf;
  if (!args.empty()) out << ",\"args\":{" << args << "}";
  out << "}";
}

void metadata(std::ostream& out, bool& first, const char* what, int pid, int64_t tid, const std::string& name) {
  out << (first ? "\n" : ",\n") << "{\"name\":\"" << what << "\",\"ph\":\"M\",\"pid\":" << pid << ",\"tid\":" << tid
      << ",\"args\":{\"name\":";
  first = false;
  json_string(out, name);
  out << "}}";
}

}  // namespace

std::string trace_json() {
  const Session s = snapshot();
  std::ostringstream out;
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  bool first = true;
  metadata(out, first, "process_name", 1, 0, "host");
  std::map<uint32_t, bool> threads;
  std::map<std::string, int> device_pids;  // device + track -> pid
  const auto us = [&](int64_t ns) { return static_cast<double>(ns - s.start_ns) * 1e-3; };
  for (const ScopeRecord& sc : s.scopes) {
    threads[sc.thread] = true;
    event(out, first, sc.name, "scope", 1, 2 * static_cast<int64_t>(sc.thread), us(sc.start_ns),
          static_cast<double>(sc.end_ns - sc.start_ns) * 1e-3, "\"depth\":" + std::to_string(sc.depth));
  }
  for (const OpRecord& o : s.ops) {
    std::ostringstream args;
    args << "\"shapes\":";
    json_string(args, o.shapes);
    args << ",\"device\":\"" << o.backend->device().name() << "\",\"bytes\":" << static_cast<long long>(o.bytes);
    if (o.flops >= 0) args << ",\"flops\":" << static_cast<long long>(o.flops);
    if (o.caller) args << ",\"caller\":\"" << o.caller << "\"";
    args << ",\"thread\":" << o.thread;
    const std::string track = o.backend->profile_track();
    int pid = 1;
    int64_t tid = 2 * static_cast<int64_t>(o.thread) + 1;
    if (track.empty()) {
      threads[o.thread] = true;
    } else {
      const std::string key = o.backend->device().name() + " " + track;
      auto it = device_pids.find(key);
      if (it == device_pids.end()) {
        it = device_pids.emplace(key, 2 + static_cast<int>(device_pids.size())).first;
        metadata(out, first, "process_name", it->second, 0, o.backend->device().name());
        metadata(out, first, "thread_name", it->second, 0, track);
      }
      pid = it->second;
      tid = 0;
    }
    event(out, first, o.name, "op", pid, tid, us(o.timing.start_ns),
          static_cast<double>(o.timing.end_ns - o.timing.start_ns) * 1e-3, args.str());
  }
  for (const auto& entry : threads) {
    const std::string n = std::to_string(entry.first);
    metadata(out, first, "thread_name", 1, 2 * static_cast<int64_t>(entry.first), "thread " + n + " scopes");
    metadata(out, first, "thread_name", 1, 2 * static_cast<int64_t>(entry.first) + 1, "thread " + n + " ops");
  }
  out << "\n]}\n";
  return out.str();
}

void write_trace(const std::string& path, const char* op) {
  const std::string json = trace_json();
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) fail<Error>(op, ": cannot open '", path, "' for writing");
  file << json;
  file.close();
  if (!file) fail<Error>(op, ": writing '", path, "' failed");
}

}  // namespace profile
}  // namespace newton
