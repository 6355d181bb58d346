// The NCCL communicator's set-up, from the core: note [communicators] in comm.h, "NCCL". The
// communicator itself lives in the CUDA library (cuda/comm_nccl.cu); this file finds its entry
// points (cuda/entry.cu) in the library the registry loaded, says why NCCL cannot be used when it
// cannot, and makes the communicator with every rank together: the unique id goes through MPI.
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "backend.h"
#include "comm.h"
#include "error.h"
#include "registry.h"

namespace newton {

namespace {

constexpr const char* kNoCudaLibrary = "no CUDA library";
constexpr const char* kOldLibrary =
    "this build has no NCCL (libnewton_cuda.so has no NCCL entry points: it was built before NCCL "
    "support; rebuild it with npm run build:native)";

// The CUDA library's reason for having no device ("no CUDA device: …"), or the addon's for
// having no CUDA library ("this build has no CUDA backend …").
std::string cuda_reason() {
  for (const DeviceInfo& d : list_devices()) {
    if (d.kind == "cuda" && !d.available) return d.reason;
  }
  return "no CUDA device";
}

// The CUDA backends of this process, by device index (0 … n-1, as the registry numbers them).
int cuda_device_count() {
  int n = 0;
  for (Backend* b : registered_backends()) {
    if (b->device().kind == DeviceKind::CUDA) ++n;
  }
  return n;
}

template <typename Fn>
Fn entry_point(void* library, const char* name) {
  return library == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(library, name));
}

struct State {
  std::mutex mutex;
  Communicator* comm = nullptr;  // never destroyed (cuda/comm_nccl.cu aborts it at exit)
};

State& state() {
  static State* s = new State();
  return *s;
}

}  // namespace

NcclInfo nccl_info() {
  NcclInfo info;
  void* library = backend_library("cuda");
  if (library == nullptr) {
    info.reason = std::string(kNoCudaLibrary) + ": " + cuda_reason();
    return info;
  }
  auto version = entry_point<NcclVersionFn>(library, "newton_nccl_version");
  if (version == nullptr) {
    info.reason = kOldLibrary;
    return info;
  }
  char text[512] = {0};
  if (version(text, sizeof(text)) != 0) {
    info.reason = text;
    return info;
  }
  info.library = text;
  if (cuda_device_count() == 0) {
    info.reason = info.library + " is in this build, but there is no GPU: " + cuda_reason();
    return info;
  }
  info.available = true;
  return info;
}

Communicator* initialized_nccl_communicator() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.comm;
}

Communicator& nccl_communicator(Communicator& mpi, double timeout_seconds, const char* fn) {
  if (!(std::isfinite(timeout_seconds) && timeout_seconds > 0)) {
    fail<ValueError>(fn, ": timeoutSeconds must be a finite number of seconds > 0, got ", timeout_seconds);
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.comm != nullptr) {
    s.comm->set_timeout(timeout_seconds);
    return *s.comm;
  }
  const int rank = mpi.rank();
  const int size = mpi.size();

  // 1. Whether this rank can take part: a CUDA library with NCCL, a GPU; rank 0 also makes the
  //    job's unique id. Nothing here waits for the other ranks.
  std::string why;
  Backend* backend = nullptr;
  std::vector<unsigned char> id(kNcclUniqueIdBytes, 0);
  void* library = backend_library("cuda");
  const NcclInfo info = nccl_info();
  auto unique_id = entry_point<NcclUniqueIdFn>(library, "newton_nccl_unique_id");
  auto create = entry_point<NcclCreateFn>(library, "newton_nccl_create");
  if (!info.available) {
    why = info.reason;
  } else if (unique_id == nullptr || create == nullptr) {
    why = kOldLibrary;
  } else {
    // One GPU per rank of a host (note [communicators]); a launcher that gives each rank one
    // visible GPU (CUDA_VISIBLE_DEVICES) makes this cuda:0 everywhere.
    const int device = mpi.local_rank() % cuda_device_count();
    try {
      backend = &backend_for(Device{DeviceKind::CUDA, device}, fn);
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (why.empty() && rank == 0) {
      char error[512] = {0};
      if (unique_id(id.data(), static_cast<unsigned long>(id.size()), error, sizeof(error)) != 0) why = error;
    }
  }

  // 2. Every rank learns whether every other can (MPI all_gather), so that all fail together
  //    instead of leaving the others in the broadcast below until MPI's watchdog ends the job.
  const int32_t ok = why.empty() ? 1 : 0;
  std::vector<int32_t> oks(static_cast<std::size_t>(size), 0);
  mpi.all_gather(&ok, sizeof(ok), oks.data(), fn);
  if (!why.empty()) fail<Error>(fn, ": rank ", rank, " (this process) cannot use NCCL: ", why);
  for (int r = 0; r < size; ++r) {
    if (oks[static_cast<std::size_t>(r)] == 0) {
      fail<Error>(fn, ": rank ", r, " cannot use NCCL (its own error says why); NCCL needs every rank");
    }
  }

  // 3. Rank 0's id to every rank, then every rank joins (under the timeout).
  mpi.broadcast(id.data(), id.size(), 0, fn);
  char error[1024] = {0};
  Communicator* comm = nullptr;
  const int rc = create(kBackendAbiVersion, backend, id.data(), static_cast<unsigned long>(id.size()), rank, size,
                        mpi.local_rank(), mpi.local_size(), timeout_seconds, fn, &comm, error, sizeof(error));
  if (rc != 0 || comm == nullptr) {
    if (error[0] == '\0') fail<Error>(fn, ": NCCL initialisation failed on rank ", rank);
    throw Error(error);  // it begins with fn
  }
  s.comm = comm;
  return *comm;
}

}  // namespace newton
