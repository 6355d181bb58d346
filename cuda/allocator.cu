// The caching device allocator: see note [caching allocator] in allocator.h.
#include "allocator.h"

#include <cuda_runtime.h>

#include <sstream>

#include "check.h"

namespace newton {
namespace cuda {

namespace {
constexpr std::size_t kSmallStep = 512;                 // class step below kLargeFrom
constexpr std::size_t kLargeFrom = std::size_t{1} << 20;  // 1 MiB
constexpr std::size_t kLargeStep = std::size_t{2} << 20;  // 2 MiB

std::string mib(std::size_t bytes) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return out.str();
}
}  // namespace

CachingAllocator::CachingAllocator(int device_index) : device_index_(device_index) {}

CachingAllocator::~CachingAllocator() {
  // The registry keeps backends alive until exit, so this runs only when a backend is
  // destroyed on purpose (tests, failed creation). Errors are ignored: at process exit the
  // CUDA runtime may already be unloading.
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& entry : free_) {
    for (void* p : entry.second) cudaFree(p);
  }
  free_.clear();
}

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < kLargeFrom) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    bytes_cached_ -= size;
  } else {
    NEWTON_CUDA_CHECK("allocate", cudaSetDevice(device_index_));
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the (non-sticky) error before retrying
      release_cache_locked();
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::ostringstream out;
      out << "out of memory on cuda:" << device_index_ << " allocating " << bytes << " bytes ("
          << mib(bytes_in_use_) << " in use by tensors, " << mib(bytes_reserved_)
          << " reserved by newton-cnn; the cache was released and the allocation retried)";
      throw OutOfMemoryError(out.str());
    }
    NEWTON_CUDA_CHECK("allocate", status);
    bytes_reserved_ += size;
    ++device_mallocs_;
  }
  live_.emplace(ptr, size);
  bytes_in_use_ += bytes;
  if (bytes_in_use_ > peak_bytes_in_use_) peak_bytes_in_use_ = bytes_in_use_;
  ++allocations_;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (ptr == nullptr) return;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours: never happens through Buffer
    const std::size_t size = it->second;
    live_.erase(it);
    bytes_in_use_ -= bytes <= bytes_in_use_ ? bytes : bytes_in_use_;
    free_[size].push_back(ptr);
    bytes_cached_ += size;
  } catch (...) {
    // push_back could throw bad_alloc; losing one cached block is better than terminating.
  }
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  MemoryStats s;
  s.bytes_in_use = bytes_in_use_;
  s.peak_bytes_in_use = peak_bytes_in_use_;
  s.bytes_cached = bytes_cached_;
  s.allocations = allocations_;
  return s;
}

std::size_t CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  return release_cache_locked();
}

std::size_t CachingAllocator::release_cache_locked() {
  if (bytes_cached_ == 0) return 0;
  // Cached blocks may still be read by queued kernels; cudaFree would wait for the device
  // anyway, this makes it explicit and surfaces no error of its own.
  cudaSetDevice(device_index_);
  cudaDeviceSynchronize();
  std::size_t freed = 0;
  for (auto& entry : free_) {
    for (void* p : entry.second) {
      cudaFree(p);
      freed += entry.first;
    }
  }
  free_.clear();
  bytes_reserved_ -= freed <= bytes_reserved_ ? freed : bytes_reserved_;
  bytes_cached_ = 0;
  return freed;
}

}  // namespace cuda
}  // namespace newton
