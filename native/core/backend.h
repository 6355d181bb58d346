// What a backend is: a device with an allocator, host transfers, and a table of kernels.
//
// Note [kernel tables]
// ~~~~~~~~~~~~~~~~~~~~
// Every op is declared once (native/core/ops/*.h) with the signature of its kernel,
// `OpT::Kernel`. A backend implements the kernels it has as plain functions and lists them,
// with the dtypes each one handles, in its KernelTable (one `register_<family>_kernels`
// function per op family and backend). The dispatcher (`launch` in op.h) looks the kernel
// up by op and dtype; a missing entry is the refusal "<op>: float64 is not supported on
// cuda:0". So the table is the one answer to "does this backend run this op in this
// dtype", for the dispatcher and for the tests (supportedOps() in JS).
//
// The dispatcher has checked shapes, dtypes and devices and allocated every output before a
// kernel runs: kernels only compute. Entries are keyed by the op's name, so a backend in a
// shared library loaded at run time (the CUDA backend) fills a table the addon can read.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "allocator.h"
#include "dtype.h"
#include "tensor.h"

namespace newton {

// Bumped whenever this interface or the op declarations change, so that a stale backend
// library is refused.
inline constexpr int kBackendAbiVersion = 7;

// A set of dtypes, one bit each.
class DTypeSet {
 public:
  constexpr DTypeSet() = default;
  constexpr DTypeSet(std::initializer_list<DType> dtypes) {
    for (DType d : dtypes) bits_ |= bit(d);
  }
  constexpr bool contains(DType d) const { return (bits_ & bit(d)) != 0; }

 private:
  static constexpr unsigned bit(DType d) { return 1u << static_cast<int>(d); }
  unsigned bits_ = 0;
};

inline constexpr DTypeSet kFloatingTypes{DType::F32, DType::F64};
inline constexpr DTypeSet kFloat32Only{DType::F32};

class Backend;

// Note [profiler hooks]
// ~~~~~~~~~~~~~~~~~~~~~
// The profiler (profile.h) times every kernel launch through its backend, because only the
// backend knows when its work runs: the CPU backend computes on the calling thread, so the
// host clock around the kernel is its time; the CUDA backend queues work on a stream, so it
// records a pair of events there and turns them into times only when the report is made
// (profile_resolve), never adding a host synchronisation per op. Times are nanoseconds of
// std::chrono::steady_clock (host_clock_ns), the one clock of every track of a trace. The
// hooks are virtual functions of the backend, not calls into the core, because the CUDA
// library does not link the core (CMakeLists.txt). They run only while profiling is on.
struct ProfileTiming {
  int64_t start_ns = 0, end_ns = 0;      // steady_clock; filled by op_begin/op_end or resolve
  int start_event = -1, end_event = -1;  // a device backend's own handles (CUDA: event pool slots)
};

inline int64_t host_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class KernelTable {
 public:
  // Lists `fn` as this backend's kernel of OpT for `dtypes` (the dtype of the op's first
  // tensor argument). A second entry for the same op replaces the first.
  template <typename OpT>
  void add(DTypeSet dtypes, typename OpT::Kernel* fn) {
    entries_[OpT::info.name] = Entry{dtypes, reinterpret_cast<void (*)()>(fn)};
  }

  // The kernel of OpT for `dtype`, or nullptr when this backend has none.
  template <typename OpT>
  typename OpT::Kernel* find(DType dtype) const {
    auto it = entries_.find(OpT::info.name);
    if (it == entries_.end() || !it->second.dtypes.contains(dtype)) return nullptr;
    return reinterpret_cast<typename OpT::Kernel*>(it->second.fn);
  }

  bool has(std::string_view op, DType dtype) const {
    auto it = entries_.find(op);
    return it != entries_.end() && it->second.dtypes.contains(dtype);
  }

 private:
  struct Entry {
    DTypeSet dtypes;
    void (*fn)();
  };
  std::unordered_map<std::string_view, Entry> entries_;  // keys: the ops' static names
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  virtual Allocator& allocator() = 0;
  // One line for devices(): library versions, threads, card name...
  virtual std::string description() const = 0;
  // Waits for queued work (a no-op on the CPU).
  virtual void synchronize() {}

  // dst.nbytes() bytes from host memory into dst / from src into host memory.
  virtual void copy_from_host(Tensor& dst, const void* src) = 0;
  virtual void copy_to_host(void* dst, const Tensor& src) = 0;

  // --- profiler hooks (note [profiler hooks]) ------------------------------------------
  // A profiling session starts: a device backend marks its stream's time origin.
  virtual void profile_session_begin() {}
  // Around one kernel launch; `name` is the op's static name (NVTX range on CUDA).
  virtual void profile_op_begin(const char* /*name*/, ProfileTiming& t) { t.start_ns = host_clock_ns(); }
  virtual void profile_op_end(ProfileTiming& t) { t.end_ns = host_clock_ns(); }
  // Fills start_ns/end_ns from device events (waits for them: called at report time only).
  virtual void profile_resolve(ProfileTiming& /*t*/) {}
  // Named ranges of the profiler's scopes for external tools (NVTX on CUDA); host-thread nested.
  virtual void profile_range_push(const char* /*name*/) {}
  virtual void profile_range_pop() {}
  // The trace track of this backend's work: "" = the launching host thread's, else e.g. "stream 0".
  virtual std::string profile_track() const { return ""; }

  // The kernels of this backend (note [kernel tables]).
  const KernelTable& kernels() const { return kernels_; }

 protected:
  KernelTable kernels_;
};

}  // namespace newton
