#include "allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unistd.h>
#include <vector>

#include "error.h"

namespace newton {
namespace {

// Note [CPU allocation cache]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Training allocates the same activation sizes every step. Large blocks from malloc come
// straight from mmap and every page of them faults and is zeroed on first touch, which
// cost more than the element-wise ops themselves (a ReLU over 3.2M floats: 0.7 ms on warm
// memory, 5+ ms on fresh pages). So freed blocks of at least kMinCachedBytes are kept,
// keyed by their rounded size, and reused; the cache holds at most a quarter of the machine's
// memory, 8 GiB at most (or NEWTON_CPU_CACHE_BYTES), is emptied before an allocation is
// reported as failed, and by emptyCache() from JS. The limit is that of a Newton iteration's
// working set: ResNet-20's forward cache at |S| = 512 with Hv's temporaries peaks at 3.2 GiB, and
// with a 1 GiB cache every pass re-faulted its activations (fwd+bwd 25% slower; see
// `npm run bench -- resnet`).
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kMinCachedBytes = std::size_t{1} << 16;
constexpr std::size_t kPage = 4096;

std::size_t max_cached_bytes() {
  if (const char* env = std::getenv("NEWTON_CPU_CACHE_BYTES")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env) return static_cast<std::size_t>(v);
  }
  // 8 GiB, or a quarter of the machine's memory when that is less.
  std::size_t limit = std::size_t{8} << 30;
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    limit = std::min(limit, static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size) / 4);
  }
  return limit;
}

// Aligned host memory with byte counters and the cache above.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = round_size(bytes);
    void* p = take_cached(rounded);
    if (!p) p = std::aligned_alloc(kAlignment, rounded);
    if (!p) {
      release_cache();
      p = std::aligned_alloc(kAlignment, rounded);
    }
    if (!p) fail<Error>("out of memory: cannot allocate ", bytes, " bytes on cpu");
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
    if (rounded >= kMinCachedBytes && stats_.bytes_cached + rounded <= max_cached_) {
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
    s.cache_limit_bytes = max_cached_;
    return s;
  }

 private:
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
  const std::size_t max_cached_ = max_cached_bytes();
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // outlives every tensor, even at exit
  return *instance;
}

}  // namespace newton
