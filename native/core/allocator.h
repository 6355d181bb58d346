// Memory for tensor buffers. Each backend supplies its allocator (the CPU one is aligned
// host memory; the CUDA backend's is a caching device allocator). A Buffer remembers the
// allocator that made it, so memory is always returned to its owner, even when the owner
// lives in a shared library loaded at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "device.h"

namespace newton {

struct MemoryStats {
  std::size_t bytes_in_use = 0;     // held by live buffers
  std::size_t peak_bytes_in_use = 0;
  std::size_t bytes_cached = 0;     // kept for reuse by a caching allocator
  std::uint64_t allocations = 0;    // calls to allocate()
  // The most bytes the cache keeps; SIZE_MAX when only an allocation failure empties it.
  std::size_t cache_limit_bytes = static_cast<std::size_t>(-1);
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns memory for `bytes` bytes (64-byte aligned), or throws newton::Error.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) noexcept = 0;
  virtual Device device() const = 0;
  virtual MemoryStats stats() const = 0;
  // Returns cached free blocks to the system (caching allocators keep freed memory) and
  // says how many bytes that freed.
  virtual std::size_t release_cache() { return 0; }
};

// An owning block of memory. Views of one tensor share the same Buffer.
class Buffer {
 public:
  Buffer(Allocator* allocator, std::size_t bytes)
      : allocator_(allocator), bytes_(bytes), data_(allocator->allocate(bytes)) {}
  ~Buffer() { allocator_->deallocate(data_, bytes_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return allocator_->device(); }

 private:
  Allocator* allocator_;
  std::size_t bytes_;
  void* data_;
};

// The process-wide host allocator (aligned, counts bytes in use; note [host memory check]
// in allocator.cpp).
Allocator& cpu_allocator();

// What a new host allocation can still get, not counting the CPU allocator's cache: the
// least of MemAvailable + SwapFree (/proc/meminfo) and, for each memory cgroup the process is
// in (v2 or v1, up to the root), its limit minus its usage (page cache it may reclaim not
// counted as used). `detail` says which bound it is, for error messages. Reads a few files:
// the allocator calls it only for large requests (see the note). Without /proc (not Linux)
// `available` is SIZE_MAX.
struct HostMemory {
  std::size_t available = static_cast<std::size_t>(-1);
  std::string detail;
};
HostMemory host_memory_available();

// "512 bytes", "64.0 KiB", "1.50 GiB": sizes in messages.
std::string format_bytes(double bytes);

}  // namespace newton
