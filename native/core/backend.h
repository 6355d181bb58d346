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
inline constexpr int kBackendAbiVersion = 6;

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

  // The kernels of this backend (note [kernel tables]).
  const KernelTable& kernels() const { return kernels_; }

 protected:
  KernelTable kernels_;
};

}  // namespace newton
