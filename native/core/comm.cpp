// The checked collectives of comm.h, for any Communicator: note [communicators].
#include "comm.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "device.h"
#include "error.h"

namespace newton {

namespace {

// Which checked collective a rank called.
enum class Call : int64_t { AllReduceTensor = 1, AllReduceArray = 2, Broadcast = 3, Barrier = 4 };

const char* call_name(int64_t call) {
  switch (static_cast<Call>(call)) {
    case Call::AllReduceTensor: return "an all-reduce of a tensor";
    case Call::AllReduceArray: return "an all-reduce of a Float64Array";
    case Call::Broadcast: return "a broadcast";
    case Call::Barrier: return "a barrier";
  }
  return "an unknown collective";
}

// Shapes of up to this many dimensions travel whole; longer ones by their extents' hash (and
// are printed as "a 9-d shape").
constexpr int kInlineDims = 8;

// One rank's call, as every rank sees it after the all_gather. Plain int64s: the same layout
// on every rank of a job (one build, one architecture).
struct Descriptor {
  int64_t call = 0;
  int64_t dtype = -1;  // DType, or -1 (barrier)
  int64_t device_kind = 0;
  int64_t device_index = 0;
  int64_t root = -1;  // broadcast
  int64_t nccl_device = -1;  // the GPU of this rank's NCCL communicator, -1 when it has none
  int64_t ndim = 0;
  int64_t numel = 0;
  uint64_t shape_hash = 0;
  int64_t dims[kInlineDims] = {};
};
static_assert(std::is_trivially_copyable_v<Descriptor>, "sent as bytes");

// FNV-1a over the extents.
uint64_t hash_shape(const Shape& shape) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t d : shape) {
    uint64_t v = static_cast<uint64_t>(d);
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h;
}

Descriptor describe_tensor(Call call, const Tensor& t, int64_t root, const Communicator* cuda_comm) {
  Descriptor d;
  if (cuda_comm != nullptr) d.nccl_device = cuda_comm->device().index;
  d.call = static_cast<int64_t>(call);
  d.dtype = static_cast<int64_t>(t.dtype());
  d.device_kind = static_cast<int64_t>(t.device().kind);
  d.device_index = t.device().index;
  d.root = root;
  d.ndim = static_cast<int64_t>(t.ndim());
  d.numel = t.numel();
  d.shape_hash = hash_shape(t.shape());
  for (std::size_t i = 0; i < t.ndim() && i < static_cast<std::size_t>(kInlineDims); ++i) d.dims[i] = t.dim(i);
  return d;
}

bool same_shape(const Descriptor& a, const Descriptor& b) {
  if (a.ndim != b.ndim || a.numel != b.numel || a.shape_hash != b.shape_hash) return false;
  for (int64_t i = 0; i < std::min<int64_t>(a.ndim, kInlineDims); ++i) {
    if (a.dims[i] != b.dims[i]) return false;
  }
  return true;
}

std::string shape_text(const Descriptor& d) {
  if (d.ndim > kInlineDims) return "a " + std::to_string(d.ndim) + "-d shape of " + std::to_string(d.numel) + " elements";
  return shape_str(Shape(d.dims, d.dims + d.ndim));
}

std::string device_text(const Descriptor& d) {
  return Device{static_cast<DeviceKind>(d.device_kind), static_cast<int>(d.device_index)}.name();
}

// "a float32 tensor of shape (2, 3)" / "a Float64Array of length 5".
std::string what_text(const Descriptor& d) {
  if (d.call == static_cast<int64_t>(Call::AllReduceArray)) return "a Float64Array of length " + std::to_string(d.numel);
  return std::string("a ") + dtype_name(static_cast<DType>(d.dtype)) + " tensor of shape " + shape_text(d);
}

// "rank 1" or "rank 1 (this process)".
std::string who(int rank, int me) { return "rank " + std::to_string(rank) + (rank == me ? " (this process)" : ""); }

// Every rank's descriptor of this call (note [communicators]). An all_gather; it is also what
// keeps a mistake on one rank from leaving the others waiting.
std::vector<Descriptor> exchange(Communicator& comm, const Descriptor& mine, const char* fn) {
  std::vector<Descriptor> all(static_cast<std::size_t>(comm.size()));
  comm.all_gather(&mine, sizeof(Descriptor), all.data(), fn);
  return all;
}

// The checks every rank makes on every rank's descriptor, in the same order, so that all
// throw the same error.
void check_calls(const std::vector<Descriptor>& all, int me, const char* fn) {
  const Descriptor& first = all[0];
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r].call != first.call) {
      fail<Error>(fn, ": the ranks called different collectives: ", who(static_cast<int>(r), me), " called ",
                  call_name(all[r].call), " where ", who(0, me), " called ", call_name(first.call),
                  "; every rank must make the same collective calls in the same order");
    }
  }
}

// Note [communicators], "NCCL": CPU tensors go through MPI, CUDA tensors through NCCL, which
// every rank must have made on the GPU its tensor is on. Returns whether the tensors are on CUDA.
bool check_devices(const std::vector<Descriptor>& all, int me, const char* fn) {
  const auto on_cuda = [](const Descriptor& d) { return d.device_kind == static_cast<int64_t>(DeviceKind::CUDA); };
  const bool cuda = on_cuda(all[0]);
  for (std::size_t r = 0; r < all.size(); ++r) {
    const Descriptor& d = all[r];
    if (on_cuda(d) != cuda) {
      fail<Error>(fn, ": the tensor of ", who(static_cast<int>(r), me), " is on ", device_text(d), " but that of ",
                  who(0, me), " is on ", device_text(all[0]),
                  "; every rank's tensor must be on the CPU (MPI) or every rank's on a GPU (NCCL)");
    }
    if (!cuda) continue;
    if (d.nccl_device < 0) {
      fail<Error>(fn, ": the tensor of ", who(static_cast<int>(r), me), " is on ", device_text(d),
                  " but NCCL is not initialised there: collectives of CUDA tensors need the NCCL backend "
                  "(ncclInit, or initDistributed('nccl')); or copy the tensor to the CPU first");
    }
    if (d.nccl_device != d.device_index) {
      fail<Error>(fn, ": the tensor of ", who(static_cast<int>(r), me), " is on ", device_text(d),
                  " but that rank's NCCL communicator is on cuda:", d.nccl_device,
                  "; each rank's CUDA tensors must be on its NCCL device");
    }
  }
  return cuda;
}

// `is_root`: the reference is a broadcast's root (named so in the message).
void check_same(const std::vector<Descriptor>& all, int reference, bool is_root, int me, const char* fn) {
  const Descriptor& ref = all[static_cast<std::size_t>(reference)];
  const std::string ref_text = is_root ? "the root, " + who(reference, me) + "," : who(reference, me);
  for (std::size_t r = 0; r < all.size(); ++r) {
    const Descriptor& d = all[r];
    if (d.dtype != ref.dtype || !same_shape(d, ref)) {
      fail<ShapeError>(fn, ": ", who(static_cast<int>(r), me), " has ", what_text(d), " but ", ref_text, " has ",
                       what_text(ref), "; shapes and dtypes must agree on every rank");
    }
  }
}

}  // namespace

void all_reduce_sum(Communicator& comm, Communicator* cuda_comm, const Tensor& t, const char* fn) {
  const int me = comm.rank();
  const std::vector<Descriptor> all = exchange(comm, describe_tensor(Call::AllReduceTensor, t, -1, cuda_comm), fn);
  check_calls(all, me, fn);
  const bool cuda = check_devices(all, me, fn);
  for (std::size_t r = 0; r < all.size(); ++r) {
    const DType dt = static_cast<DType>(all[r].dtype);
    if (dt != DType::F32 && dt != DType::F64) {
      fail<ShapeError>(fn, ": the tensor of ", who(static_cast<int>(r), me), " is ", dtype_name(dt),
                       "; only float32 and float64 tensors can be summed");
    }
  }
  check_same(all, 0, false, me, fn);
  if (t.numel() == 0) return;
  // check_devices: a CUDA tensor here means cuda_comm is this rank's NCCL communicator.
  Communicator& data = cuda ? *cuda_comm : comm;
  if (t.dtype() == DType::F32) {
    data.all_reduce_sum(t.data<float>(), static_cast<std::size_t>(t.numel()), fn);
  } else {
    data.all_reduce_sum(t.data<double>(), static_cast<std::size_t>(t.numel()), fn);
  }
}

void all_reduce_sum(Communicator& comm, double* a, std::size_t n, const char* fn) {
  const int me = comm.rank();
  Descriptor mine;
  mine.call = static_cast<int64_t>(Call::AllReduceArray);
  mine.dtype = static_cast<int64_t>(DType::F64);
  mine.ndim = 1;
  mine.numel = static_cast<int64_t>(n);
  mine.dims[0] = static_cast<int64_t>(n);
  mine.shape_hash = hash_shape(Shape{static_cast<int64_t>(n)});
  const std::vector<Descriptor> all = exchange(comm, mine, fn);
  check_calls(all, me, fn);
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].numel != all[0].numel) {
      fail<ShapeError>(fn, ": ", who(static_cast<int>(r), me), " has ", what_text(all[r]), " but ", who(0, me),
                       " has ", what_text(all[0]), "; the lengths must agree on every rank");
    }
  }
  if (n == 0) return;
  comm.all_reduce_sum(a, n, fn);
}

void broadcast(Communicator& comm, Communicator* cuda_comm, const Tensor& t, int64_t root, const char* fn) {
  const int me = comm.rank();
  const int size = comm.size();
  const std::vector<Descriptor> all = exchange(comm, describe_tensor(Call::Broadcast, t, root, cuda_comm), fn);
  check_calls(all, me, fn);
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].root < 0 || all[r].root >= size) {
      fail<ValueError>(fn, ": ", who(static_cast<int>(r), me), " names root ", all[r].root,
                       ", which is not a rank of this job of ", size, " (ranks 0 to ", size - 1, ")");
    }
    if (all[r].root != all[0].root) {
      fail<ValueError>(fn, ": ", who(static_cast<int>(r), me), " names root ", all[r].root, " but ", who(0, me),
                       " names root ", all[0].root, "; every rank must name the same root");
    }
  }
  const bool cuda = check_devices(all, me, fn);
  check_same(all, static_cast<int>(root), true, me, fn);
  if (t.nbytes() == 0) return;
  Communicator& data = cuda ? *cuda_comm : comm;
  data.broadcast(t.raw(), t.nbytes(), static_cast<int>(root), fn);
}

void barrier(Communicator& comm, const char* fn) {
  Descriptor mine;
  mine.call = static_cast<int64_t>(Call::Barrier);
  const std::vector<Descriptor> all = exchange(comm, mine, fn);
  check_calls(all, comm.rank(), fn);
  comm.barrier(fn);
}

}  // namespace newton
