// The entry points of libnewton_cuda.so, the only symbols it exports (the library is built
// with -fvisibility=hidden). The addon dlopen()s the library and calls
// newton_backend_create (load_backend_library in native/core/registry.h), and the NCCL ones
// (native/core/comm_nccl.cpp, declared in native/core/comm.h); nothing here may throw or
// abort: every failure becomes a non-zero status and a reason that devices() (or ncclInfo,
// ncclInit) reports.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

#include "check.h"
#include "comm_nccl.h"
#include "cuda_backend.h"

#define NEWTON_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

void set_error(char* error, unsigned long size, const std::string& message) {
  if (error == nullptr || size == 0) return;
  std::snprintf(error, size, "%s", message.c_str());
}

std::string driver_note() {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  const auto v = [](int x) { return std::to_string(x / 1000) + "." + std::to_string(x % 1000 / 10); };
  if (driver == 0) return " (no NVIDIA driver found; this build needs one that supports CUDA " + v(runtime) + ")";
  return " (driver supports CUDA " + v(driver) + ", this build needs CUDA " + v(runtime) + ")";
}

// The number of usable devices, or -1 with a reason.
int device_count(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    *reason = "no CUDA device: cudaGetDeviceCount: " + std::string(cudaGetErrorString(status)) + " [" +
              cudaGetErrorName(status) + "]" + driver_note();
    return -1;
  }
  if (count == 0) {
    *reason = "no CUDA device: cudaGetDeviceCount found 0 devices (check CUDA_VISIBLE_DEVICES)";
    return -1;
  }
  return count;
}

int create(int abi_version, int index, newton::Backend** out, char* error, unsigned long error_size) {
  try {
    if (out == nullptr) {
      set_error(error, error_size, "newton_backend_create: no output pointer");
      return 1;
    }
    *out = nullptr;
    if (abi_version != newton::kBackendAbiVersion) {
      set_error(error, error_size,
                "libnewton_cuda.so was built for backend ABI version " + std::to_string(newton::kBackendAbiVersion) +
                    " but the addon expects version " + std::to_string(abi_version) +
                    ": rebuild both (npm run build:native)");
      return 1;
    }
    std::string reason;
    const int count = device_count(&reason);
    if (count < 0) {
      set_error(error, error_size, reason);
      return 1;
    }
    if (index < 0 || index >= count) {
      set_error(error, error_size,
                "no CUDA device " + std::to_string(index) + ": " + std::to_string(count) + " device(s) visible");
      return 1;
    }
    *out = new newton::cuda::CudaBackend(index);
    return 0;
  } catch (const std::exception& e) {
    set_error(error, error_size, std::string("CUDA backend initialisation failed: ") + e.what());
  } catch (...) {
    set_error(error, error_size, "CUDA backend initialisation failed: unknown exception");
  }
  return 1;
}

}  // namespace

// native/core/registry.h: creates the backend of device 0 (cuda:0).
NEWTON_EXPORT int newton_backend_create(int abi_version, newton::Backend** out, char* error,
                                        unsigned long error_size) {
  return create(abi_version, 0, out, error, error_size);
}

// native/core/registry.cpp registers devices 1 … count−1 with these two: the number of
// visible CUDA devices, or 0 with the reason in `error`.
NEWTON_EXPORT int newton_backend_device_count(char* error, unsigned long error_size) {
  try {
    std::string reason;
    const int count = device_count(&reason);
    if (count < 0) {
      set_error(error, error_size, reason);
      return 0;
    }
    return count;
  } catch (...) {
    set_error(error, error_size, "cudaGetDeviceCount failed");
    return 0;
  }
}

// The backend of device `index` (cuda:index); as newton_backend_create otherwise.
NEWTON_EXPORT int newton_backend_create_device(int abi_version, int index, newton::Backend** out, char* error,
                                               unsigned long error_size) {
  return create(abi_version, index, out, error, error_size);
}

// --- NCCL (cuda/comm_nccl.h; the signatures are native/core/comm.h's Nccl*Fn) ------------------

// "NCCL 2.27.7" into text; non-zero with the reason when the build has no NCCL.
NEWTON_EXPORT int newton_nccl_version(char* text, unsigned long size) {
  try {
    set_error(text, size, newton::cuda::nccl_version());
    return 0;
  } catch (const std::exception& e) {
    set_error(text, size, e.what());
  } catch (...) {
    set_error(text, size, "ncclGetVersion failed");
  }
  return 1;
}

// ncclGetUniqueId into id[0 … id_size) (rank 0).
NEWTON_EXPORT int newton_nccl_unique_id(void* id, unsigned long id_size, char* error, unsigned long error_size) {
  try {
    newton::cuda::nccl_unique_id(id, id_size);
    return 0;
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
  } catch (...) {
    set_error(error, error_size, "ncclGetUniqueId failed");
  }
  return 1;
}

// The NCCL communicator of `rank` on `backend`'s GPU (a CUDA backend this library created).
NEWTON_EXPORT int newton_nccl_create(int abi_version, newton::Backend* backend, const void* id, unsigned long id_size,
                                     int rank, int size, int local_rank, int local_size, double timeout_seconds,
                                     const char* fn, newton::Communicator** out, char* error,
                                     unsigned long error_size) {
  try {
    if (out == nullptr || backend == nullptr || id == nullptr || fn == nullptr) {
      set_error(error, error_size, "newton_nccl_create: a null argument");
      return 1;
    }
    *out = nullptr;
    if (abi_version != newton::kBackendAbiVersion || backend->device().kind != newton::DeviceKind::CUDA) {
      set_error(error, error_size,
                std::string(fn) + ": libnewton_cuda.so does not match the addon (backend ABI version " +
                    std::to_string(newton::kBackendAbiVersion) + ", the addon's " + std::to_string(abi_version) +
                    "): rebuild both (npm run build:native)");
      return 1;
    }
    *out = newton::cuda::create_nccl_communicator(newton::cuda::as_cuda(*backend), id, id_size, rank, size,
                                                  local_rank, local_size, timeout_seconds, fn);
    return 0;
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
  } catch (...) {
    set_error(error, error_size, std::string(fn ? fn : "ncclInit") + ": NCCL initialisation failed");
  }
  return 1;
}

// The core calls these through pointers of these types: they must not drift apart.
static_assert(std::is_same_v<decltype(&newton_nccl_version), newton::NcclVersionFn>);
static_assert(std::is_same_v<decltype(&newton_nccl_unique_id), newton::NcclUniqueIdFn>);
static_assert(std::is_same_v<decltype(&newton_nccl_create), newton::NcclCreateFn>);
