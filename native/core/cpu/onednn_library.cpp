// Finding and opening oneDNN, and the convolution implementation setting.
//
// Note [oneDNN at run time]
// ~~~~~~~~~~~~~~~~~~~~~~~~~
// The build needs only oneDNN's headers (CMakeLists.txt: NEWTON_ONEDNN, headers of oneDNN 3
// under $NEWTON_ONEDNN_ROOT, .cache/onednn from scripts/install-onednn.sh, or /usr). The
// library is opened with dlopen on first use and its C API (dnnl.h) called through function
// pointers, as image_jpeg.cpp does TurboJPEG: so the addon, and the prebuilt addon of the npm
// package, still loads on a machine without oneDNN, and the convolutions then use the
// built-in im2col + GEMM path (conv.cpp). Looked for, in order:
//   1. $NEWTON_ONEDNN_LIBRARY (a path), when set;
//   2. the libdnnl.so.3 the build found beside the headers (its path compiled in);
//   3. libdnnl.so.3 through the loader's path (LD_LIBRARY_PATH, ld.so.cache).
// Only oneDNN 3.x is accepted (the API of these headers; Debian bookworm's libdnnl is 2.6).
// The library is never closed: primitives may still be destroyed at exit.
//
// Note [oneDNN threads]
// ~~~~~~~~~~~~~~~~~~~~~
// oneDNN runs its primitives on OpenMP threads (the GNU OpenMP build of install-onednn.sh),
// not on our pool (parallel.h). Its team is kept as large as the pool: before each call,
// omp_set_num_threads(num_threads()) on the calling thread when the sizes differ (OpenMP's
// thread count is a per-thread setting, so each Node thread that calls in gets it). The
// primitive cache is keyed on the thread count too, because oneDNN sizes a primitive's work
// split and scratchpad for the threads it had when it was created. Reductions (the filter
// gradient over the batch) are split by thread, so results depend on the thread count by
// rounding only.
//
// Note [OpenMP waiting]
// ~~~~~~~~~~~~~~~~~~~~~
// GNU OpenMP's threads spin after each parallel region (GOMP_SPINCOUNT, ~300k iterations by
// default) before they sleep. Between two convolutions our own pool runs the element-wise ops,
// pooling and the loss, and the spinning OpenMP threads then take the cores from it; on a
// machine shared with other processes (a 2-core machine at load 6–7) a spinning thread also
// burns the time slice of the thread it waits for. Measured, cnn3 SGD step at batch 128, 2
// threads, load ≈ 6–7 (images/s, medians of 9 steps, two alternating rounds):
//                       28×28×1        32×32×3
//   built-in im2col     1156 /  639    524 / 432
//   oneDNN, spinning     266 /  396    245 / 292
//   oneDNN, passive     1023 / 1767    588 / 714
//   GOMP_SPINCOUNT=1000  970 / 1056    706 / 701
// So unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, OMP_WAIT_POLICY=PASSIVE is set
// before oneDNN (and with it libgomp, which reads its settings once, when it loads) is opened,
// and removed again right after, so that child processes (a PyTorch run by a benchmark) get
// the environment they would have had. Where libgomp is already loaded by something else, its
// settings stay as they are.
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.h"
#include "../parallel.h"
#include "onednn_conv.h"
#include "onednn_library.h"

namespace newton {

namespace {

#ifdef NEWTON_HAVE_ONEDNN

struct Loaded {
  OneDnnApi api;
  bool ok = false;
  std::string version, library, missing;
};

// Opens the first library of note [oneDNN at run time] that loads (its name in `opened`), or
// returns null and appends what each candidate's loader said to `tried`.
void* open_library(std::string& opened, std::string& tried) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("NEWTON_ONEDNN_LIBRARY"); env != nullptr && env[0] != '\0') {
    candidates.emplace_back(env);
  }
#ifdef NEWTON_ONEDNN_BUILD_LIBRARY
  candidates.emplace_back(NEWTON_ONEDNN_BUILD_LIBRARY);
#endif
  candidates.emplace_back("libdnnl.so.3");
  for (const std::string& path : candidates) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      opened = path;
      return handle;
    }
    const char* why = dlerror();
    tried += (tried.empty() ? "" : "; ") + path + ": " + (why ? why : "not found");
  }
  return nullptr;
}

// See note [OpenMP waiting]: true when OMP_WAIT_POLICY was set here (to be removed once
// libgomp has loaded).
bool prefer_passive_openmp_threads() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return false;
  if (void* gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD); gomp != nullptr) {
    dlclose(gomp);  // loaded already: too late to change how its threads wait
    return false;
  }
  return setenv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0;
}

Loaded load() {
  Loaded l;
  const bool passive = prefer_passive_openmp_threads();
  std::string opened, tried;
  void* handle = open_library(opened, tried);
  if (passive) unsetenv("OMP_WAIT_POLICY");
  if (handle == nullptr) {
    l.missing = "the oneDNN library could not be loaded (" + tried +
                "): run scripts/install-onednn.sh, or set NEWTON_ONEDNN_LIBRARY to a libdnnl.so.3 (oneDNN 3.x)";
    return l;
  }
  auto version = reinterpret_cast<decltype(&dnnl_version)>(dlsym(handle, "dnnl_version"));
  if (version == nullptr) {
    l.missing = opened + ", loaded as oneDNN, has no dnnl_version (not oneDNN 3.x)";
    return l;
  }
  const dnnl_version_t* v = version();
  l.version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  Dl_info where{};
  l.library = dladdr(reinterpret_cast<void*>(version), &where) != 0 && where.dli_fname ? where.dli_fname : "libdnnl.so.3";
  if (v->major != 3) {
    l.missing = "oneDNN " + l.version + " at " + l.library + " is not 3.x, the API this build was compiled for";
    return l;
  }
  OneDnnApi& a = l.api;
  auto find = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (fn == nullptr && l.missing.empty()) l.missing = "oneDNN " + l.version + " at " + l.library + " has no " + name;
  };
  find(a.engine_create, "dnnl_engine_create");
  find(a.stream_create, "dnnl_stream_create");
  find(a.stream_wait, "dnnl_stream_wait");
  find(a.memory_desc_create_with_tag, "dnnl_memory_desc_create_with_tag");
  find(a.memory_desc_destroy, "dnnl_memory_desc_destroy");
  find(a.memory_desc_equal, "dnnl_memory_desc_equal");
  find(a.memory_desc_get_size, "dnnl_memory_desc_get_size");
  find(a.memory_create, "dnnl_memory_create");
  find(a.memory_set_data_handle, "dnnl_memory_set_data_handle");
  find(a.memory_destroy, "dnnl_memory_destroy");
  find(a.primitive_attr_create, "dnnl_primitive_attr_create");
  find(a.primitive_attr_destroy, "dnnl_primitive_attr_destroy");
  find(a.primitive_attr_set_post_ops, "dnnl_primitive_attr_set_post_ops");
  find(a.post_ops_create, "dnnl_post_ops_create");
  find(a.post_ops_destroy, "dnnl_post_ops_destroy");
  find(a.post_ops_append_sum, "dnnl_post_ops_append_sum");
  find(a.post_ops_append_eltwise, "dnnl_post_ops_append_eltwise");
  find(a.conv_forward_pd_create, "dnnl_convolution_forward_primitive_desc_create");
  find(a.conv_backward_data_pd_create, "dnnl_convolution_backward_data_primitive_desc_create");
  find(a.conv_backward_weights_pd_create, "dnnl_convolution_backward_weights_primitive_desc_create");
  find(a.reorder_pd_create, "dnnl_reorder_primitive_desc_create");
  find(a.primitive_desc_query_md, "dnnl_primitive_desc_query_md");
  find(a.primitive_desc_destroy, "dnnl_primitive_desc_destroy");
  find(a.primitive_create, "dnnl_primitive_create");
  find(a.primitive_execute, "dnnl_primitive_execute");
  find(a.primitive_destroy, "dnnl_primitive_destroy");
  if (!l.missing.empty()) return l;
  // dlsym on the handle also searches the library's dependencies: its OpenMP runtime.
  a.omp_set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "omp_set_num_threads"));
  a.omp_get_max_threads = reinterpret_cast<int (*)()>(dlsym(handle, "omp_get_max_threads"));
  if (a.engine_create(&a.engine, dnnl_cpu, 0) != dnnl_success) {
    l.missing = "oneDNN " + l.version + " at " + l.library + " could not create a CPU engine";
    return l;
  }
  if (a.stream_create(&a.stream, a.engine, dnnl_stream_default_flags) != dnnl_success) {
    l.missing = "oneDNN " + l.version + " at " + l.library + " could not create a CPU stream";
    return l;
  }
  l.ok = true;
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();  // thread-safe initialisation; opened once per process
  return l;
}

#else  // no oneDNN headers at build time

struct Loaded {
  bool ok = false;
  std::string version, library, missing;
};

const Loaded& loaded() {
  static const Loaded l{false, "", "",
#ifdef NEWTON_ONEDNN_MISSING
                        "this build has no oneDNN (" NEWTON_ONEDNN_MISSING ")"
#else
                        "this build has no oneDNN (built without its headers)"
#endif
  };
  return l;
}

#endif  // NEWTON_HAVE_ONEDNN

// -1: not chosen yet (the default follows availability, decided on first use).
std::atomic<int> g_conv_impl{-1};

}  // namespace

#ifdef NEWTON_HAVE_ONEDNN
const OneDnnApi* onednn_api() { return loaded().ok ? &loaded().api : nullptr; }

void onednn_match_threads(const OneDnnApi& api) {
  if (api.omp_set_num_threads == nullptr || api.omp_get_max_threads == nullptr) return;
  const int threads = num_threads();
  if (api.omp_get_max_threads() != threads) api.omp_set_num_threads(threads);
}
#endif

bool onednn_available() { return loaded().ok; }
std::string onednn_version() { return loaded().ok ? loaded().version : std::string(); }
std::string onednn_missing() { return loaded().ok ? std::string() : loaded().missing; }
std::string onednn_library() { return loaded().ok ? loaded().library : std::string(); }

ConvImpl conv_impl() {
  const int chosen = g_conv_impl.load();
  if (chosen >= 0) return static_cast<ConvImpl>(chosen);
  return onednn_available() ? ConvImpl::OneDnn : ConvImpl::Builtin;
}

void set_conv_impl(ConvImpl impl) {
  if (impl == ConvImpl::OneDnn && !onednn_available()) {
    fail<ValueError>("setConvImplementation: impl 'onednn' is not available: ", onednn_missing());
  }
  g_conv_impl.store(static_cast<int>(impl));
}

}  // namespace newton
