// Backends are registered at load time; ops find theirs by the device of their inputs.
// The CPU backend is always registered. Other backends (CUDA) may live in shared libraries
// loaded at run time with load_backend_library(); when one cannot be loaded, the reason is
// kept and reported by list_devices().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace newton {

struct DeviceInfo {
  std::string name;         // "cpu", "cuda:0", or "cuda" when unavailable
  std::string kind;         // "cpu" or "cuda"
  bool available = false;
  std::string description;  // e.g. "OpenBLAS 0.3.21, 2 threads"; empty when unavailable
  std::string reason;       // why it is unavailable; empty when available
};

// The backend that owns `device`; throws newton::Error "<op>: device cuda:1 is not
// available: <why>" when none does (without the op prefix when `op` is null).
Backend& backend_for(Device device, const char* op = nullptr);

// Every registered backend (they live until the process exits), for the profiler's hooks.
std::vector<Backend*> registered_backends();

// Registers a backend; the registry owns it from then on.
void register_backend(std::unique_ptr<Backend> backend);

// Records that a kind of device ("cuda") cannot be used, and why.
void set_unavailable(const std::string& kind, const std::string& reason);

// Every backend kind the library knows, registered or not.
std::vector<DeviceInfo> list_devices();

// The entry point a backend shared library exports (C linkage):
//   int newton_backend_create(int abi_version, newton::Backend** out,
//                             char* error, unsigned long error_size);
// It returns 0 and sets *out, or non-zero with a message in `error`.
using BackendCreateFn = int (*)(int, Backend**, char*, unsigned long);

// dlopen()s `path` and registers the backend(s) it creates. On failure nothing is
// registered, the reason is recorded under `kind` and returned false; never throws.
bool load_backend_library(const std::string& kind, const std::string& path);

// The handle of the library load_backend_library loaded for `kind` and kept mapped (also when it
// created no backend: no GPU), for its other entry points (dlsym: the NCCL ones,
// native/core/comm_nccl.cpp); null when none was loaded.
void* backend_library(const std::string& kind);

}  // namespace newton
