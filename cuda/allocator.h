// The caching device allocator of one CUDA device.
//
// Note [caching allocator]
// ~~~~~~~~~~~~~~~~~~~~~~~~
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, far more than
// a small kernel, so tensors never call them per op. Requests are rounded up to a size
// class (multiples of 512 bytes up to 1 MiB, then multiples of 2 MiB) and a freed block
// goes onto its class's free list; the next request of that class takes it back.
//
// Blocks are handed out again without waiting for the GPU: every kernel of a device runs
// on its one stream (cuda_backend.h), so work queued before the free finishes before work
// queued after the reuse. Code that uses a block on another stream or from the host must
// synchronise before it frees the block.
//
// On cudaErrorMemoryAllocation the cache is released (cudaFree of every cached block, after
// a device synchronise) and the allocation retried once; a second failure throws
// newton::OutOfMemoryError "out of memory on cuda:0 allocating N bytes (...)" (a RangeError
// in JS), and the library goes on working (nothing is leaked, the error state is cleared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/allocator.h"

namespace newton {
namespace cuda {

class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(int device_index);
  ~CachingAllocator() override;  // returns cached blocks to CUDA (blocks in use are leaked)

  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) noexcept override;
  Device device() const override { return Device{DeviceKind::CUDA, device_index_}; }
  MemoryStats stats() const override;

  // cudaFree()s every cached block (after synchronising the device). Returns the bytes freed.
  std::size_t release_cache() override;

  // The size class a request of `bytes` is served from.
  static std::size_t round_size(std::size_t bytes);

 private:
  std::size_t release_cache_locked();

  const int device_index_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;   // size class -> cached blocks
  std::unordered_map<void*, std::size_t> live_;      // block -> its size class
  std::size_t bytes_in_use_ = 0;                     // requested bytes of live blocks
  std::size_t peak_bytes_in_use_ = 0;
  std::size_t bytes_cached_ = 0;                     // size-class bytes on the free lists
  std::size_t bytes_reserved_ = 0;                   // everything obtained from cudaMalloc
  std::uint64_t allocations_ = 0;
  std::uint64_t device_mallocs_ = 0;
};

}  // namespace cuda
}  // namespace newton
