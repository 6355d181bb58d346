#include "allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <sstream>
#include <unistd.h>
#include <vector>

#include "error.h"

namespace newton {
namespace {

// Note [host memory check]
// ~~~~~~~~~~~~~~~~~~~~~~~~
// malloc almost never fails on Linux: the kernel overcommits, and a tensor too large for the
// machine is only noticed when its pages are touched, by the OOM killer (or the container's
// cgroup limit) killing the process. So before asking the system for a block, the allocator
// compares the request with what is really available (host_memory_available(): MemAvailable
// + SwapFree, and the limit minus the usage of every memory cgroup the process is in) and
// throws OutOfMemoryError — a JS exception the program survives — when it does not fit.
// Before giving up it releases its cache of freed blocks and reads again. Reading costs a few
// file reads (~50 µs), so it is done for requests of at least kCheckBytes, and for smaller ones
// once kCheckBytes of fresh blocks have been handed out since the last read; a block taken
// from the cache is memory the process already has and is never checked. So at most
// kCheckBytes can be handed out past the last reading.
//
// NEWTON_MEMORY_LIMIT_BYTES (a whole number of bytes) caps the bytes in use by tensors in host
// memory, checked on every allocation: a test can set a limit without a cgroup.
constexpr std::size_t kCheckBytes = std::size_t{64} << 20;

// A whole decimal number; false for anything else (no sign, no suffix, no overflow).
bool parse_bytes(const char* text, std::size_t* out) {
  if (!text || !*text) return false;
  std::size_t v = 0;
  for (const char* c = text; *c; ++c) {
    if (*c < '0' || *c > '9') return false;
    const std::size_t d = static_cast<std::size_t>(*c - '0');
    if (v > (static_cast<std::size_t>(-1) - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// 0 when unset (lib/native.ts refuses malformed values before the addon loads).
std::size_t memory_limit_override() {
  static const std::size_t limit = [] {
    std::size_t v = 0;
    return parse_bytes(std::getenv("NEWTON_MEMORY_LIMIT_BYTES"), &v) ? v : std::size_t{0};
  }();
  return limit;
}

// Note [CPU allocation cache]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Training allocates the same activation sizes every step. Large blocks from malloc come
// straight from mmap and every page of them faults and is zeroed on first touch, which
// cost more than the element-wise ops themselves (a ReLU over 3.2M floats: 0.7 ms on warm
// memory, 5+ ms on fresh pages). So freed blocks of at least kMinCachedBytes are kept,
// keyed by their rounded size, and reused.
// The cache is sized by the work, not by the machine: it holds at most the peak of the bytes
// that live tensors have held (peak_bytes_in_use), so a pass that repeats — a CG step's Gv, a
// training step — finds every block it freed last time, while the process never caches more
// than its own working set has needed. (A fixed cap misses both ways: the former 1 GiB made every
// Gv of cnn3 at |S| = 3,000 re-fault 56,000 (28×28×1) to 256,000 (32×32×3) pages, and ResNet-20's
// forward + backward at |S| = 512 took 25% longer; a quarter of RAM holds memory on large
// machines that a small job never needs.) The cache is emptied before an allocation is
// reported as failed or when the system runs short (check_available), and by emptyCache() from
// JS; NEWTON_CPU_CACHE_BYTES caps it at a fixed size instead.
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kMinCachedBytes = std::size_t{1} << 16;
constexpr std::size_t kPage = 4096;

// NEWTON_CPU_CACHE_BYTES, or SIZE_MAX for the working-set rule of the note.
std::size_t fixed_cache_cap() {
  if (const char* env = std::getenv("NEWTON_CPU_CACHE_BYTES")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env) return static_cast<std::size_t>(v);
  }
  return static_cast<std::size_t>(-1);
}

// Aligned host memory with byte counters and the cache above.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = round_size(bytes);
    check_override(bytes);
    void* p = take_cached(rounded);
    if (!p) {
      check_available(rounded);
      p = std::aligned_alloc(kAlignment, rounded);
    }
    if (!p) {
      release_cache();
      p = std::aligned_alloc(kAlignment, rounded);
    }
    if (!p) fail<OutOfMemoryError>("the system refused ", format_bytes(static_cast<double>(rounded)));
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use += bytes;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    stats_.allocations += 1;
    return p;
  }

  void deallocate(void* ptr, std::size_t bytes) noexcept override {
    const std::size_t rounded = round_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= bytes;
    if (rounded >= kMinCachedBytes && stats_.bytes_cached + rounded <= cache_limit()) {
      try {
        free_blocks_[rounded].push_back(ptr);
        stats_.bytes_cached += rounded;
        return;
      } catch (...) {
        // No memory to remember the block: give it back instead.
      }
    }
    std::free(ptr);
  }

  std::size_t release_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_blocks_) {
      for (void* p : blocks) std::free(p);
    }
    free_blocks_.clear();
    const std::size_t freed = stats_.bytes_cached;
    stats_.bytes_cached = 0;
    return freed;
  }

  Device device() const override { return cpu_device(); }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    MemoryStats s = stats_;
    s.cache_limit_bytes = cache_limit();
    return s;
  }

 private:
  // NEWTON_MEMORY_LIMIT_BYTES (note [host memory check]).
  void check_override(std::size_t bytes) {
    const std::size_t limit = memory_limit_override();
    if (limit == 0) return;
    std::size_t in_use = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use = stats_.bytes_in_use;
    }
    if (in_use <= limit && bytes <= limit - in_use) return;
    const std::size_t left = in_use < limit ? limit - in_use : 0;
    fail<OutOfMemoryError>("only ", format_bytes(static_cast<double>(left)), " available (NEWTON_MEMORY_LIMIT_BYTES=",
                           limit, " minus ", format_bytes(static_cast<double>(in_use)), " in use)");
  }

  // The system's memory (note [host memory check]); releases the cache before giving up.
  void check_available(std::size_t rounded) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (rounded < kCheckBytes && fresh_since_check_ + rounded < kCheckBytes) {
        fresh_since_check_ += rounded;
        return;
      }
      fresh_since_check_ = rounded;
    }
    HostMemory host = host_memory_available();
    if (rounded <= host.available) return;
    if (release_cache() > 0) {
      host = host_memory_available();
      if (rounded <= host.available) return;
    }
    fail<OutOfMemoryError>("only ", format_bytes(static_cast<double>(host.available)), " available (", host.detail, ")");
  }

  // See note [CPU allocation cache]. Called with mutex_ held.
  std::size_t cache_limit() const {
    return fixed_cap_ != static_cast<std::size_t>(-1) ? fixed_cap_ : stats_.peak_bytes_in_use;
  }

  static std::size_t round_size(std::size_t bytes) {
    const std::size_t b = std::max<std::size_t>(bytes, 1);
    const std::size_t unit = b >= kMinCachedBytes ? kPage : kAlignment;
    return (b + unit - 1) / unit * unit;
  }

  void* take_cached(std::size_t rounded) {
    if (rounded < kMinCachedBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.find(rounded);
    if (it == free_blocks_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= rounded;
    return p;
  }

  mutable std::mutex mutex_;
  MemoryStats stats_;
  std::map<std::size_t, std::vector<void*>> free_blocks_;  // rounded size -> blocks
  const std::size_t fixed_cap_ = fixed_cache_cap();
  std::size_t fresh_since_check_ = 0;  // bytes of fresh blocks handed out since the last reading
};

// --- host_memory_available ------------------------------------------------------------------

// The first whitespace-separated token of a file, or "" when it cannot be read.
std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (in) in >> token;
  return token;
}

// The value of `key` in a "key value" file (memory.stat), or 0.
std::size_t stat_value(const std::string& path, const char* key) {
  std::ifstream in(path);
  std::string k;
  std::size_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

struct CgroupMount {
  std::string root;         // the cgroup path mounted there ("/" outside containers)
  std::string mount_point;  // e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory
};

// The cgroup2 mount and the v1 mount carrying the memory controller, from mountinfo.
void find_cgroup_mounts(CgroupMount* v2, CgroupMount* v1) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional fields] - fstype source super-options
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, options, f;
    fields >> id >> parent >> dev >> root >> mount_point >> options;
    while (fields >> f && f != "-") {
    }
    std::string fstype, source, super_options;
    fields >> fstype >> source >> super_options;
    if (fstype == "cgroup2" && v2->mount_point.empty()) {
      *v2 = {root, mount_point};
    } else if (fstype == "cgroup" && v1->mount_point.empty() &&
               ("," + super_options + ",").find(",memory,") != std::string::npos) {
      *v1 = {root, mount_point};
    }
  }
}

// The directory of cgroup `path` under `mount`; the mount point itself when the path lies
// outside what is mounted (a container that sees only its own cgroup).
std::string cgroup_dir(const CgroupMount& mount, const std::string& path) {
  std::string rel = path;
  if (mount.root != "/" && rel.compare(0, mount.root.size(), mount.root) == 0) rel = rel.substr(mount.root.size());
  std::string dir = mount.mount_point + (rel == "/" ? "" : rel);
  if (access(dir.c_str(), F_OK) != 0) dir = mount.mount_point;
  return dir;
}

// Lowers `best` to the tightest limit - usage of the cgroups from `dir` up to `top`.
void cgroup_bound(const std::string& top, std::string dir, bool v2, HostMemory* best) {
  for (;;) {
    const std::string limit_text = read_token(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
    std::size_t limit = 0, usage = 0;
    // v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages); v2 writes "max".
    if (parse_bytes(limit_text.c_str(), &limit) && limit < (std::size_t{1} << 60) &&
        parse_bytes(read_token(dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes")).c_str(), &usage)) {
      // Usage includes page cache; the inactive part is reclaimed before the limit bites.
      const std::size_t reclaimable = stat_value(dir + "/memory.stat", v2 ? "inactive_file" : "total_inactive_file");
      const std::size_t used = usage > reclaimable ? usage - reclaimable : 0;
      const std::size_t left = used < limit ? limit - used : 0;
      if (left < best->available) {
        best->available = left;
        best->detail = std::string("memory cgroup ") + dir + ": limit " + format_bytes(static_cast<double>(limit)) +
                       " minus " + format_bytes(static_cast<double>(used)) + " in use";
      }
    }
    if (dir.size() <= top.size()) return;
    const std::size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos || slash < top.size()) return;
    dir = dir.substr(0, slash);
  }
}

}  // namespace

HostMemory host_memory_available() {
  HostMemory result;
#if defined(__linux__)
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    std::size_t kb = 0, available = 0, swap = 0;
    bool found = false;
    while (in >> key >> kb >> unit) {
      if (key == "MemAvailable:") {
        available = kb * 1024;
        found = true;
      } else if (key == "SwapFree:") {
        swap = kb * 1024;
      }
    }
    if (found) {
      result.available = available + swap;
      result.detail = "MemAvailable " + format_bytes(static_cast<double>(available)) + " + SwapFree " +
                      format_bytes(static_cast<double>(swap));
    }
  }
  CgroupMount v2, v1;
  find_cgroup_mounts(&v2, &v1);
  // /proc/self/cgroup: "0::/path" (v2), "N:controllers:/path" (v1).
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty() && !v2.mount_point.empty()) {
      cgroup_bound(v2.mount_point, cgroup_dir(v2, path), true, &result);
    } else if (!v1.mount_point.empty() && ("," + controllers + ",").find(",memory,") != std::string::npos) {
      cgroup_bound(v1.mount_point, cgroup_dir(v1, path), false, &result);
    }
  }
#endif
  return result;
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(static_cast<long long>(bytes)) + " bytes";
  int u = -1;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // outlives every tensor, even at exit
  return *instance;
}

}  // namespace newton
