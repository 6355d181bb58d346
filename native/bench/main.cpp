// newton-cnn-bench: cnn3 training steps and one Newton iteration's products from synthetic
// data, with the core and the backends only (no Node), so that perf, gdb, valgrind, nsys and
// ncu see the library's code directly.
//
//   newton-cnn-bench [--steps N] [--batch B] [--threads T] [--device cpu|cuda]
//                    [--gv-batch S] [--gv-products K] [--image CxHxW] [--profile] [--trace out.json]
//
// Part 1 times SGD steps (forward, loss, gradient, momentum update with the ‖θ‖²/(2Cl) term)
// at batch B; part 2 times, on a subsample of S images, the forward + gradient pass and K
// Gauss-Newton products Gv = (1/Cl + λ)v + Jᵀ B J v / S through the R-operator, as one CG
// solve of the Newton method uses them. --profile prints the profiler's per-op table;
// --trace writes the Chrome trace (Perfetto). Exit status 1 with a message on bad options
// or any library error.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cnn3.h"
#include "core/parallel.h"
#include "core/profile.h"
#include "core/registry.h"

using namespace newton;

namespace {

struct Options {
  int steps = 10, batch = 128, threads = 0, gv_batch = 0, gv_products = 3;
  int64_t c = 1, h = 28, w = 28;
  std::string device = "cpu", trace;
  bool profile = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "newton-cnn-bench: %s (see --help)\n", message.c_str());
  std::exit(1);
}

int int_option(const char* name, const char* value, int low, int high) {
  if (value == nullptr) usage_error(std::string(name) + " needs a value");
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (*end != '\0' || v < low || v > high) {
    usage_error(std::string(name) + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high) +
                ", got '" + value + "'");
  }
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: newton-cnn-bench [--steps N=10] [--batch B=128] [--threads T] [--device cpu|cuda]\n"
          "                        [--gv-batch S=B] [--gv-products K=3] [--image CxHxW=1x28x28]\n"
          "                        [--profile] [--trace out.json]\n");
      std::exit(0);
    } else if (a == "--steps") o.steps = int_option("--steps", next, 1, 1000000), ++i;
    else if (a == "--batch") o.batch = int_option("--batch", next, 1, 1 << 20), ++i;
    else if (a == "--threads") o.threads = int_option("--threads", next, 1, 256), ++i;
    else if (a == "--gv-batch") o.gv_batch = int_option("--gv-batch", next, 1, 1 << 20), ++i;
    else if (a == "--gv-products") o.gv_products = int_option("--gv-products", next, 0, 100000), ++i;
    else if (a == "--device") {
      if (next == nullptr || (std::strcmp(next, "cpu") != 0 && std::strcmp(next, "cuda") != 0)) {
        usage_error("--device must be cpu or cuda");
      }
      o.device = next, ++i;
    } else if (a == "--image") {
      long long c = 0, h = 0, w = 0;
      if (next == nullptr || std::sscanf(next, "%lldx%lldx%lld", &c, &h, &w) != 3 || c < 1 || h < 8 || w < 8) {
        usage_error("--image must be CxHxW with H, W >= 8, e.g. 3x32x32");
      }
      o.c = c, o.h = h, o.w = w, ++i;
    } else if (a == "--profile") o.profile = true;
    else if (a == "--trace") {
      if (next == nullptr) usage_error("--trace needs a file name");
      o.trace = next, ++i;
    } else usage_error("unknown option '" + a + "'");
  }
  if (o.gv_batch == 0) o.gv_batch = o.batch;
  return o;
}

// libnewton_cuda.so next to this executable, as the addon loads it next to itself.
void load_cuda() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  std::string dir(self);
  dir = dir.substr(0, dir.find_last_of('/'));
  const std::string lib = dir + "/libnewton_cuda.so";
  struct stat st {};
  if (stat(lib.c_str(), &st) == 0) load_backend_library("cuda", lib);
  else set_unavailable("cuda", "no libnewton_cuda.so next to newton-cnn-bench");
}

double ms_since(int64_t t0) { return (host_clock_ns() - t0) * 1e-6; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Synthetic images (normal) and one-hot labels of 10 classes.
struct Batch {
  Tensor x, y;
};
Batch synthetic(const Options& o, int n, Device device, uint64_t seed) {
  ops::NormalOptions no;
  no.seed = seed;
  no.device = device;
  Batch b;
  b.x = ops::RandomNormal::run({n, o.c, o.h, o.w}, no);
  std::vector<float> onehot(static_cast<std::size_t>(n) * 10, 0.0f);
  for (int i = 0; i < n; ++i) onehot[static_cast<std::size_t>(i) * 10 + (i * 7 + seed) % 10] = 1.0f;
  b.y = ops::from_host("newton-cnn-bench", onehot.data(), {n, 10}, DType::F32, device);
  return b;
}

constexpr double kCl = 0.01 * 60000;  // C·l with C = 0.01 and l = 60,000 (DESIGN.md)

// Gv = (1/Cl + λ)v + Jᵀ(B(Jv))/S on the cached forward pass c.
bench::Cnn3Params gv(const bench::Cnn3& net, const bench::Cnn3Cache& c, bench::Cnn3Params& v, double lambda) {
  const double s = static_cast<double>(c.z.dim(0));
  const Tensor u = net.jvp(c, v);
  const Tensor q = ops::Scale::run(ops::SoftmaxCrossEntropyHessianProduct::run(c.z, u), 1.0 / s);
  bench::Cnn3Params g = net.backward(c, q);
  std::vector<Tensor*> gs = g.all(), vs = v.all();
  for (std::size_t i = 0; i < gs.size(); ++i) ops::Axpy::run(*gs[i], 1.0 / kCl + lambda, *vs[i]);
  return g;
}

void run(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  const Device device = o.device == "cpu" ? Device{DeviceKind::CPU, 0} : Device{DeviceKind::CUDA, 0};
  Backend& backend = backend_for(device, "newton-cnn-bench");
  std::printf("newton-cnn-bench: cnn3 on %lldx%lldx%lld, %s (%s)\n", static_cast<long long>(o.c),
              static_cast<long long>(o.h), static_cast<long long>(o.w), device.name().c_str(),
              backend.description().c_str());
  bench::Cnn3 net(o.c, o.h, o.w, 10, device, 1);
  bench::Cnn3Params velocity = net.zeros_like();
  const Batch data = synthetic(o, o.batch, device, 7);
  const double lr = 0.003, momentum = 0.9;

  if (o.profile || !o.trace.empty()) profile::start();
  // --- part 1: SGD steps -------------------------------------------------------------
  std::vector<double> step_ms;
  double loss = 0;
  for (int s = 0; s < o.steps; ++s) {
    profile::push_scope("sgd step");
    const int64_t t0 = host_clock_ns();
    const bench::Cnn3Cache c = net.forward(data.x);
    loss = ops::SoftmaxCrossEntropy::run(c.z, data.y) / o.batch;
    const Tensor dz = ops::Scale::run(ops::SoftmaxCrossEntropyGradient::run(c.z, data.y), 1.0 / o.batch);
    bench::Cnn3Params g = net.backward(c, dz);
    // v ← μv − η(θ/Cl + g); θ ← θ + v
    std::vector<Tensor*> ps = net.params().all(), vs = velocity.all(), gs = g.all();
    for (std::size_t i = 0; i < ps.size(); ++i) {
      *vs[i] = ops::Scale::run(*vs[i], momentum);
      ops::Axpy::run(*vs[i], -lr, *gs[i]);
      ops::Axpy::run(*vs[i], -lr / kCl, *ps[i]);
      ops::Axpy::run(*ps[i], 1.0, *vs[i]);
    }
    backend.synchronize();
    step_ms.push_back(ms_since(t0));
    profile::pop_scope();
  }
  const double sgd = median(step_ms);
  std::printf("sgd step, batch %d: median %.2f ms over %d steps (%.0f images/s), last loss %.4f\n", o.batch, sgd,
              o.steps, 1000.0 * o.batch / sgd, loss);

  // --- part 2: one Newton iteration's products on a subsample -------------------------
  const Batch sub = synthetic(o, o.gv_batch, device, 11);
  profile::push_scope("newton");
  int64_t t0 = host_clock_ns();
  profile::push_scope("gradient");
  const bench::Cnn3Cache c = net.forward(sub.x);
  const Tensor dz = ops::Scale::run(ops::SoftmaxCrossEntropyGradient::run(c.z, sub.y), 1.0 / o.gv_batch);
  const bench::Cnn3Params g = net.backward(c, dz);
  backend.synchronize();
  profile::pop_scope();
  const double grad_ms = ms_since(t0);
  bench::Cnn3Params v = net.random_like(99);
  std::vector<double> gv_ms;
  for (int k = 0; k < o.gv_products; ++k) {
    profile::push_scope("Gv");
    t0 = host_clock_ns();
    v = gv(net, c, v, 1.0);
    backend.synchronize();
    gv_ms.push_back(ms_since(t0));
    profile::pop_scope();
  }
  profile::pop_scope();
  if (o.gv_products > 0) {
    std::printf("newton, |S| = %d: forward+gradient %.2f ms, Gv median %.2f ms over %d (ratio %.2f)\n", o.gv_batch,
                grad_ms, median(gv_ms), o.gv_products, median(gv_ms) / grad_ms);
  }
  if (profile::enabled()) {
    profile::stop();
    if (o.profile) std::printf("%s", profile::format_table(profile::report()).c_str());
    if (!o.trace.empty()) {
      profile::write_trace(o.trace, "newton-cnn-bench --trace");
      std::printf("trace written to %s\n", o.trace.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    load_cuda();
    run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "newton-cnn-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
