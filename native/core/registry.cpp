#include "registry.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "cpu/cpu_backend.h"
#include "error.h"

namespace newton {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Backend>> backends;  // by device name
  std::map<std::string, std::string> unavailable;             // kind -> reason
  std::map<std::string, void*> libraries;                     // kind -> dlopen handle
};

Registry& registry() {
  static Registry* instance = [] {
    auto* r = new Registry();  // leaked: backends must outlive tensors freed at exit
    auto cpu = std::make_unique<CpuBackend>();
    r->backends.emplace(cpu->device().name(), std::move(cpu));
    return r;
  }();
  return *instance;
}

const char* kind_name(DeviceKind kind) { return kind == DeviceKind::CPU ? "cpu" : "cuda"; }

}  // namespace

Backend& backend_for(Device device, const char* op) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.backends.find(device.name());
  if (it != r.backends.end()) return *it->second;
  const std::string prefix = op != nullptr ? std::string(op) + ": " : std::string();
  auto why = r.unavailable.find(kind_name(device.kind));
  if (why != r.unavailable.end()) {
    fail<Error>(prefix, "device ", device.name(), " is not available: ", why->second);
  }
  fail<Error>(prefix, "device ", device.name(), " is not available");
}

std::vector<Backend*> registered_backends() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<Backend*> out;
  for (auto& entry : r.backends) out.push_back(entry.second.get());
  return out;
}

void register_backend(std::unique_ptr<Backend> backend) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const Device d = backend->device();
  r.unavailable.erase(kind_name(d.kind));
  r.backends[d.name()] = std::move(backend);
}

void set_unavailable(const std::string& kind, const std::string& reason) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.unavailable[kind] = reason;
}

std::vector<DeviceInfo> list_devices() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<DeviceInfo> out;
  bool have_cuda = false;
  for (auto& [name, backend] : r.backends) {
    DeviceInfo info;
    info.name = name;
    info.kind = kind_name(backend->device().kind);
    info.available = true;
    info.description = backend->description();
    have_cuda = have_cuda || backend->device().kind == DeviceKind::CUDA;
    out.push_back(info);
  }
  if (!have_cuda) {
    DeviceInfo info;
    info.name = "cuda";
    info.kind = "cuda";
    info.available = false;
    auto why = r.unavailable.find("cuda");
    info.reason = why != r.unavailable.end() ? why->second : "no CUDA backend was loaded";
    out.push_back(info);
  }
  return out;
}

namespace {

// A library that drives several devices (one CUDA backend per GPU) may export
//   int newton_backend_device_count(char* error, unsigned long error_size);
//   int newton_backend_create_device(int abi_version, int index, Backend** out,
//                                    char* error, unsigned long error_size);
// Device 0 came from newton_backend_create; this registers devices 1 … count−1. A device
// that fails to start is left out (the others stay usable).
void register_other_devices(void* handle) {
  using CountFn = int (*)(char*, unsigned long);
  using CreateDeviceFn = int (*)(int, int, Backend**, char*, unsigned long);
  auto count_fn = reinterpret_cast<CountFn>(dlsym(handle, "newton_backend_device_count"));
  auto create_fn = reinterpret_cast<CreateDeviceFn>(dlsym(handle, "newton_backend_create_device"));
  if (!count_fn || !create_fn) return;
  char message[512] = {0};
  const int count = count_fn(message, sizeof(message));
  for (int index = 1; index < count; ++index) {
    Backend* backend = nullptr;
    if (create_fn(kBackendAbiVersion, index, &backend, message, sizeof(message)) == 0 && backend != nullptr) {
      register_backend(std::unique_ptr<Backend>(backend));
    }
  }
}

}  // namespace

bool load_backend_library(const std::string& kind, const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    set_unavailable(kind, std::string("cannot load ") + path + ": " + (err ? err : "unknown error"));
    return false;
  }
  auto create = reinterpret_cast<BackendCreateFn>(dlsym(handle, "newton_backend_create"));
  if (!create) {
    set_unavailable(kind, path + " does not export newton_backend_create");
    dlclose(handle);
    return false;
  }
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.libraries[kind] = handle;  // mapped from here on (never closed)
  }
  char message[512] = {0};
  Backend* backend = nullptr;
  int status = 1;
  try {
    status = create(kBackendAbiVersion, &backend, message, sizeof(message));
  } catch (...) {
    status = 1;
  }
  if (status != 0 || backend == nullptr) {
    set_unavailable(kind, message[0] ? std::string(message) : "backend initialisation failed");
    // Keep the library mapped: it may have registered atexit handlers.
    return false;
  }
  register_backend(std::unique_ptr<Backend>(backend));
  register_other_devices(handle);
  return true;
}

void* backend_library(const std::string& kind) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.libraries.find(kind);
  return it == r.libraries.end() ? nullptr : it->second;
}

}  // namespace newton
