#include "allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "error.h"

namespace newton {
namespace {

// Aligned host memory with byte counters. 64-byte alignment suits AVX-512 loads and
// cache lines; the CUDA backend's pinned staging buffers come from elsewhere.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) fail<Error>("out of memory: cannot allocate ", bytes, " bytes on cpu");
    const std::size_t now = in_use_.fetch_add(bytes) + bytes;
    std::size_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    allocations_.fetch_add(1);
    return p;
  }

  void deallocate(void* ptr, std::size_t bytes) noexcept override {
    std::free(ptr);
    in_use_.fetch_sub(bytes);
  }

  Device device() const override { return cpu_device(); }

  MemoryStats stats() const override {
    MemoryStats s;
    s.bytes_in_use = in_use_.load();
    s.peak_bytes_in_use = peak_.load();
    s.bytes_cached = 0;
    s.allocations = allocations_.load();
    return s;
  }

 private:
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> allocations_{0};
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // outlives every tensor, even at exit
  return *instance;
}

}  // namespace newton
