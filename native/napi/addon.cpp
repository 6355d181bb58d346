// Module initialisation: loads the optional CUDA backend library that sits next to the
// .node file, defines NativeTensor and registers every function.
#include <napi.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <exception>
#include <mutex>
#include <string>

#include "core/registry.h"
#include "exports.h"
#include "tensor_wrap.h"

namespace newton {
namespace napi {

namespace {

std::string find_addon_path() {
  Dl_info dl{};
  if (dladdr(reinterpret_cast<void*>(&find_addon_path), &dl) == 0 || !dl.dli_fname) return "";
  std::string path = dl.dli_fname;
  if (char* real = realpath(path.c_str(), nullptr)) {
    path = real;
    free(real);
  }
  return path;
}

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Once per process (worker threads share the loaded backends).
void load_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      const std::string& self = addon_path();
      const std::string cuda = self.empty() ? std::string() : directory_of(self) + "/libnewton_cuda.so";
      struct stat st {};
      if (!cuda.empty() && stat(cuda.c_str(), &st) == 0) {
        load_backend_library("cuda", cuda);  // records the reason itself on failure
      } else {
        set_unavailable("cuda",
                        "this build has no CUDA backend (configure with NEWTON_CUDA=ON on a machine with CUDA 13, "
                        "cuBLAS and cuDNN 9)");
      }
    } catch (const std::exception&) {
      // Never fail module loading because of an optional backend.
    }
  });
}

// Note [environment teardown]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// A worker thread's environment can be torn down at any moment (worker.terminate()): N-API
// calls then fail, and an error that cannot be thrown is dropped
// (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, CMakeLists.txt / binding.gyp) instead of aborting.
// What outlives the environment is process-wide and owned by no environment: the backends
// loaded here, the allocators and the CPU thread pool (core/parallel.cpp). Per-environment
// state is InstanceData, deleted by Node after the environment stops; the finalizers of the
// last tensors may run before or after that (InstanceData detaches them), and queued async
// reads complete during teardown (async_read.cpp).
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  load_backends();
  auto* data = new InstanceData();
  env.SetInstanceData<InstanceData>(data);
  Napi::Function ctor = NativeTensor::Init(env);
  data->tensor_constructor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
  register_tensors(env, exports);
  register_ops(env, exports);
  register_runtime(env, exports);
  register_async(env, exports);
  register_linalg(env, exports);
  register_augment(env, exports);
  register_images(env, exports);
  register_records(env, exports);
  register_profile(env, exports);
  register_comm(env, exports);
  return exports;
}

}  // namespace

const std::string& addon_path() {
  static const std::string path = find_addon_path();
  return path;
}

}  // namespace napi
}  // namespace newton

static Napi::Object InitNewtonCnn(Napi::Env env, Napi::Object exports) { return newton::napi::Init(env, exports); }

NODE_API_MODULE(newton_cnn, InitNewtonCnn)
