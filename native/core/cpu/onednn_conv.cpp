// The convolution passes through oneDNN (onednn_conv.h): a primitive per shape, cached.
//
// Note [oneDNN primitive cache]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Creating a oneDNN primitive chooses an implementation and JIT-compiles its kernel, which
// costs far more than running it on a small batch: so each primitive is created once per
// PrimitiveKey (pass, shapes, stride, padding, bias/ReLU/accumulate flags,
// thread count; note [oneDNN threads] in onednn_library.cpp) and kept, at most
// kMaxPrimitives of them, the least recently used dropped first (a training run uses a
// handful: three per convolution layer). Shapes oneDNN has no implementation for are
// remembered too, and run the built-in path: those for which creating the descriptor returns
// dnnl_unimplemented, or dnnl_invalid_arguments (the op has checked the shapes already, so
// that means values beyond oneDNN's own limits, e.g. a stride of 2⁴⁰ that conv2d accepts).
//
// Note [oneDNN layouts]
// ~~~~~~~~~~~~~~~~~~~~~
// Our tensors are NCHW, filters KCRS. A primitive can take them as they are ("plain"), or
// choose its own blocked layouts (format_tag::any; nChw16c and friends on AVX-512), which
// then cost a reorder of each operand into and out of that layout on every call. Measured on
// the cnn3 layers at batch 128, 2 threads (GFLOP/s, medians of 9 calls, two alternating
// rounds; load 6.6–6.9 on 2 cores, so ±30%):
//                      forward          backward data    backward filter
//                      blocked  plain   blocked  plain   blocked  plain   (built-in)
//   28×28 conv2 32→64  155/60   53/61   152/118  50/61   112/78   53/61   (103/72, 70/73, 57/66)
//   28×28 conv3 64→64  169/120  39/46   156/148  41/49   117/58   47/52   (55/71, 96/58, 64/70)
//   32×32 conv2 32→64   92/92   71/70    96/87   54/62    85/91   62/64   (60/70, 77/74, 55/64)
//   32×32 conv1 3→32   122/77   45/45    21/19   38/35    57/48   28/31   (42/43, 44/51, 38/39)
//   28×28 conv1 1→32    46/50   61/43     6/6    50/52    22/20   22/33   (37/20, 44/46, 38/38)
// Blocked wins everywhere but in the backward-data pass of few input channels, where what
// oneDNN picks for a blocked input gradient runs far slower (6 GFLOP/s at C = 1): so
// that pass takes the plain layout below kMinBlockedDataChannels channels (the first layer,
// whose input gradient training does not need anyway). NEWTON_ONEDNN_LAYOUT=plain|blocked
// overrides the choice for such measurements.
// Calls are serialised (one mutex for the cache and the stream): the pool runs one
// parallel_for at a time too, and oneDNN's team already uses every thread.
#include "onednn_conv.h"

#ifdef NEWTON_HAVE_ONEDNN

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "../error.h"
#include "../parallel.h"
#include "onednn_library.h"

namespace newton {

namespace {

enum class ConvPass : int { Forward = 0, BackwardData = 1, BackwardFilter = 2 };
const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return "conv2d";
    case ConvPass::BackwardData: return "conv2dBackwardData";
    case ConvPass::BackwardFilter: return "conv2dBackwardFilter";
  }
  return "conv2d";
}

// See note [oneDNN layouts]: whether a pass lets oneDNN choose blocked layouts.
constexpr int64_t kMinBlockedDataChannels = 16;
bool blocked_layout(ConvPass pass, const OneDnnConvShape& sh) {
  static const int forced = [] {
    const char* env = std::getenv("NEWTON_ONEDNN_LAYOUT");
    if (env == nullptr) return -1;
    if (std::strcmp(env, "plain") == 0) return 0;
    if (std::strcmp(env, "blocked") == 0) return 1;
    return -1;
  }();
  if (forced >= 0) return forced == 1;
  return !(pass == ConvPass::BackwardData && sh.c < kMinBlockedDataChannels);
}

constexpr std::size_t kMaxPrimitives = 128;  // note [oneDNN primitive cache]

struct PrimitiveKey {
  ConvPass pass;
  OneDnnConvShape sh;
  bool bias, relu, accumulate;  // forward only: bias, ReLU post-op, sum post-op
  bool blocked;
  int threads;
  auto tuple() const {
    return std::make_tuple(static_cast<int>(pass), sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.p, sh.q, sh.stride_h,
                           sh.stride_w, sh.pad_h, sh.pad_w, bias, relu, accumulate, blocked, threads);
  }
  bool operator<(const PrimitiveKey& o) const { return tuple() < o.tuple(); }
};

// The shapes, for error messages.
std::string describe(const OneDnnConvShape& sh) {
  return "x (" + std::to_string(sh.n) + ", " + std::to_string(sh.c) + ", " + std::to_string(sh.h) + ", " +
         std::to_string(sh.w) + "), w (" + std::to_string(sh.k) + ", " + std::to_string(sh.c) + ", " +
         std::to_string(sh.r) + ", " + std::to_string(sh.s) + "), y (" + std::to_string(sh.n) + ", " +
         std::to_string(sh.k) + ", " + std::to_string(sh.p) + ", " + std::to_string(sh.q) + "), stride (" +
         std::to_string(sh.stride_h) + ", " + std::to_string(sh.stride_w) + "), padding (" + std::to_string(sh.pad_h) +
         ", " + std::to_string(sh.pad_w) + ")";
}

void check(dnnl_status_t status, const char* what, const PrimitiveKey& key) {
  if (status != dnnl_success) {
    fail<Error>(pass_name(key.pass), " (oneDNN): ", what, " failed with status ", static_cast<int>(status), " for ",
                describe(key.sh));
  }
}

// A memory descriptor owned here (oneDNN 3 descriptors are opaque handles).
struct Md {
  const OneDnnApi* api = nullptr;
  dnnl_memory_desc_t md = nullptr;
  Md() = default;
  Md(const Md&) = delete;
  Md& operator=(const Md&) = delete;
  ~Md() {
    if (md != nullptr) api->memory_desc_destroy(md);
  }
};

void make_md(const OneDnnApi& api, Md& out, std::initializer_list<int64_t> dims, dnnl_format_tag_t tag,
             const PrimitiveKey& key) {
  dnnl_dims_t d{};
  int i = 0;
  for (int64_t v : dims) d[i++] = v;
  out.api = &api;
  check(api.memory_desc_create_with_tag(&out.md, i, d, dnnl_f32, tag), "dnnl_memory_desc_create_with_tag", key);
}

// One tensor argument of a primitive: our plain layout, the primitive's, and the reorders
// between them when they differ (note [oneDNN layouts]).
struct Operand {
  int arg = 0;            // DNNL_ARG_*
  bool input = false;     // read by the primitive
  bool output = false;    // written by the primitive
  Md user;                // NCHW / KCRS / (K)
  const_dnnl_memory_desc_t inner = nullptr;  // the primitive's (owned by its descriptor)
  std::size_t inner_bytes = 0;
  dnnl_primitive_t to_inner = nullptr, to_user = nullptr;  // reorders, when the layouts differ
};

struct Primitive {
  const OneDnnApi* api = nullptr;
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t primitive = nullptr;  // null: oneDNN has no implementation for the key
  std::vector<std::unique_ptr<Operand>> operands;
  uint64_t last_use = 0;
  Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;
  ~Primitive() {
    for (auto& o : operands) {
      if (o->to_inner != nullptr) api->primitive_destroy(o->to_inner);
      if (o->to_user != nullptr) api->primitive_destroy(o->to_user);
    }
    if (primitive != nullptr) api->primitive_destroy(primitive);
    if (pd != nullptr) api->primitive_desc_destroy(pd);
  }
};

// A reorder primitive from one layout to another of the same tensor.
dnnl_primitive_t make_reorder(const OneDnnApi& api, const_dnnl_memory_desc_t from, const_dnnl_memory_desc_t to,
                              const PrimitiveKey& key) {
  dnnl_primitive_desc_t pd = nullptr;
  check(api.reorder_pd_create(&pd, from, api.engine, to, api.engine, nullptr), "dnnl_reorder_primitive_desc_create",
        key);
  dnnl_primitive_t reorder = nullptr;
  const dnnl_status_t status = api.primitive_create(&reorder, pd);
  api.primitive_desc_destroy(pd);
  check(status, "dnnl_primitive_create (reorder)", key);
  return reorder;
}

// The descriptors of one convolution, in the layouts the key asks for (note [oneDNN layouts]).
struct ConvMds {
  Md x, w, y, b;
};
void conv_mds(const OneDnnApi& api, const PrimitiveKey& key, ConvMds& m) {
  const OneDnnConvShape& s = key.sh;
  make_md(api, m.x, {s.n, s.c, s.h, s.w}, key.blocked ? dnnl_format_tag_any : dnnl_nchw, key);
  make_md(api, m.w, {s.k, s.c, s.r, s.s}, key.blocked ? dnnl_format_tag_any : dnnl_oihw, key);
  make_md(api, m.y, {s.n, s.k, s.p, s.q}, key.blocked ? dnnl_format_tag_any : dnnl_nchw, key);
  make_md(api, m.b, {s.k}, dnnl_a, key);
}

// Convolution geometry: oneDNN checks (H + pad_l + pad_r − R) / stride + 1 == P with integer
// division, so the symmetric padding of Conv2dParams matches our floor-rounded P and Q.
struct Geometry {
  dnnl_dims_t strides{}, dilates{}, pad_l{}, pad_r{};
};
Geometry geometry(const OneDnnConvShape& s) {
  Geometry g;
  g.strides[0] = s.stride_h;
  g.strides[1] = s.stride_w;
  g.pad_l[0] = g.pad_r[0] = s.pad_h;
  g.pad_l[1] = g.pad_r[1] = s.pad_w;
  return g;
}

// Whether creating a descriptor failed because oneDNN cannot run these shapes (note [oneDNN
// primitive cache]), rather than by a failure that must be reported.
bool unsupported(dnnl_status_t status) { return status == dnnl_unimplemented || status == dnnl_invalid_arguments; }

// The forward descriptor (also the hint the backward passes need). Returns the status when
// unsupported(); other failures throw.
dnnl_status_t forward_pd(const OneDnnApi& api, const PrimitiveKey& key, const ConvMds& m, const_dnnl_primitive_attr_t attr,
                         dnnl_primitive_desc_t* pd) {
  const Geometry g = geometry(key.sh);
  const dnnl_status_t status =
      api.conv_forward_pd_create(pd, api.engine, dnnl_forward_training, dnnl_convolution_direct, m.x.md, m.w.md,
                                 key.bias ? m.b.md : nullptr, m.y.md, g.strides, g.dilates, g.pad_l, g.pad_r, attr);
  if (!unsupported(status)) check(status, "dnnl_convolution_forward_primitive_desc_create", key);
  return status;
}

// Post-ops of the forward pass: accumulate (sum: y += …), ReLU (eltwise). Owned attributes.
struct Attr {
  const OneDnnApi* api = nullptr;
  dnnl_primitive_attr_t attr = nullptr;
  ~Attr() {
    if (attr != nullptr) api->primitive_attr_destroy(attr);
  }
};
void forward_attr(const OneDnnApi& api, const PrimitiveKey& key, Attr& out) {
  out.api = &api;
  check(api.primitive_attr_create(&out.attr), "dnnl_primitive_attr_create", key);
  if (!key.accumulate && !key.relu) return;
  dnnl_post_ops_t post_ops = nullptr;
  check(api.post_ops_create(&post_ops), "dnnl_post_ops_create", key);
  dnnl_status_t status = dnnl_success;
  if (key.accumulate) status = api.post_ops_append_sum(post_ops, 1.0f, 0, dnnl_data_type_undef);
  if (status == dnnl_success && key.relu) status = api.post_ops_append_eltwise(post_ops, dnnl_eltwise_relu, 0.0f, 0.0f);
  if (status == dnnl_success) status = api.primitive_attr_set_post_ops(out.attr, post_ops);
  api.post_ops_destroy(post_ops);  // the attribute keeps its own copy
  check(status, "setting the post-ops", key);
}

// Adds an operand whose primitive layout is queried from the descriptor (`index` 1 of the
// weights queries is the bias).
void add_operand(const OneDnnApi& api, Primitive& prim, const PrimitiveKey& key, int arg, dnnl_query_t query, int index,
                 std::initializer_list<int64_t> dims, dnnl_format_tag_t plain, bool input, bool output) {
  auto o = std::make_unique<Operand>();
  o->arg = arg;
  o->input = input;
  o->output = output;
  make_md(api, o->user, dims, plain, key);
  o->inner = api.primitive_desc_query_md(prim.pd, query, index);
  if (o->inner == nullptr) fail<Error>(pass_name(key.pass), " (oneDNN): the primitive has no operand ", arg);
  o->inner_bytes = api.memory_desc_get_size(o->inner);
  if (api.memory_desc_equal(o->user.md, o->inner) == 0) {
    if (input) o->to_inner = make_reorder(api, o->user.md, o->inner, key);
    if (output) o->to_user = make_reorder(api, o->inner, o->user.md, key);
  }
  prim.operands.push_back(std::move(o));
}

// Creates the primitive of a key; primitive stays null when oneDNN has no implementation.
std::unique_ptr<Primitive> create(const OneDnnApi& api, const PrimitiveKey& key) {
  auto prim = std::make_unique<Primitive>();
  prim->api = &api;
  const OneDnnConvShape& s = key.sh;
  ConvMds m;
  conv_mds(api, key, m);
  const Geometry g = geometry(s);
  Attr attr;
  if (key.pass == ConvPass::Forward) {
    forward_attr(api, key, attr);
    if (unsupported(forward_pd(api, key, m, attr.attr, &prim->pd))) {
      prim->pd = nullptr;
      return prim;
    }
  } else {
    dnnl_primitive_desc_t hint = nullptr;
    if (unsupported(forward_pd(api, key, m, nullptr, &hint))) return prim;
    dnnl_status_t status;
    if (key.pass == ConvPass::BackwardData) {
      status = api.conv_backward_data_pd_create(&prim->pd, api.engine, dnnl_convolution_direct, m.x.md, m.w.md, m.y.md,
                                                g.strides, g.dilates, g.pad_l, g.pad_r, hint, nullptr);
    } else {
      status = api.conv_backward_weights_pd_create(&prim->pd, api.engine, dnnl_convolution_direct, m.x.md, m.w.md,
                                                   nullptr, m.y.md, g.strides, g.dilates, g.pad_l,
                                                   g.pad_r, hint, nullptr);
    }
    api.primitive_desc_destroy(hint);
    if (unsupported(status)) {
      prim->pd = nullptr;
      return prim;
    }
    check(status, "creating the primitive descriptor", key);
  }
  const auto x_dims = {s.n, s.c, s.h, s.w}, w_dims = {s.k, s.c, s.r, s.s}, y_dims = {s.n, s.k, s.p, s.q};
  switch (key.pass) {
    case ConvPass::Forward:
      add_operand(api, *prim, key, DNNL_ARG_SRC, dnnl_query_src_md, 0, x_dims, dnnl_nchw, true, false);
      add_operand(api, *prim, key, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, w_dims, dnnl_oihw, true, false);
      if (key.bias) add_operand(api, *prim, key, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, {s.k}, dnnl_a, true, false);
      add_operand(api, *prim, key, DNNL_ARG_DST, dnnl_query_dst_md, 0, y_dims, dnnl_nchw, key.accumulate, true);
      break;
    case ConvPass::BackwardData:
      add_operand(api, *prim, key, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, y_dims, dnnl_nchw, true, false);
      add_operand(api, *prim, key, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, w_dims, dnnl_oihw, true, false);
      add_operand(api, *prim, key, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, x_dims, dnnl_nchw, false, true);
      break;
    case ConvPass::BackwardFilter:
      add_operand(api, *prim, key, DNNL_ARG_SRC, dnnl_query_src_md, 0, x_dims, dnnl_nchw, true, false);
      add_operand(api, *prim, key, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, y_dims, dnnl_nchw, true, false);
      add_operand(api, *prim, key, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, w_dims, dnnl_oihw, false, true);
      break;
  }
  check(api.primitive_create(&prim->primitive, prim->pd), "dnnl_primitive_create", key);
  return prim;
}

// A memory object over a buffer, destroyed with this.
struct Memory {
  const OneDnnApi* api = nullptr;
  dnnl_memory_t mem = nullptr;
  ~Memory() {
    if (mem != nullptr) api->memory_destroy(mem);
  }
};

// Runs a primitive on the caller's buffers (in the order of its operands), reordering into
// and out of the primitive's layouts where they differ.
void execute(const OneDnnApi& api, const Primitive& prim, const PrimitiveKey& key, const std::vector<void*>& buffers) {
  const std::size_t n = prim.operands.size();
  std::vector<Memory> user(n), inner(n);
  std::vector<std::unique_ptr<char[]>> scratch(n);
  std::vector<dnnl_exec_arg_t> args;
  for (std::size_t i = 0; i < n; ++i) {
    const Operand& o = *prim.operands[i];
    user[i].api = &api;
    check(api.memory_create(&user[i].mem, o.user.md, api.engine, buffers[i]), "dnnl_memory_create", key);
    dnnl_memory_t used = user[i].mem;
    if (o.to_inner != nullptr || o.to_user != nullptr) {
      scratch[i].reset(new char[std::max<std::size_t>(1, o.inner_bytes)]);
      inner[i].api = &api;
      check(api.memory_create(&inner[i].mem, o.inner, api.engine, scratch[i].get()), "dnnl_memory_create", key);
      used = inner[i].mem;
      if (o.to_inner != nullptr) {
        const dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, user[i].mem}, {DNNL_ARG_TO, used}};
        check(api.primitive_execute(o.to_inner, api.stream, 2, r), "dnnl_primitive_execute (reorder in)", key);
      }
    }
    args.push_back({o.arg, used});
  }
  check(api.primitive_execute(prim.primitive, api.stream, static_cast<int>(args.size()), args.data()),
        "dnnl_primitive_execute", key);
  for (std::size_t i = 0; i < n; ++i) {
    const Operand& o = *prim.operands[i];
    if (o.to_user != nullptr) {
      const dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, inner[i].mem}, {DNNL_ARG_TO, user[i].mem}};
      check(api.primitive_execute(o.to_user, api.stream, 2, r), "dnnl_primitive_execute (reorder out)", key);
    }
  }
  check(api.stream_wait(api.stream), "dnnl_stream_wait", key);
}

std::mutex g_mutex;  // the cache and the stream
std::map<PrimitiveKey, std::unique_ptr<Primitive>> g_cache;
uint64_t g_clock = 0;

// The cached primitive of a key, created on first use (note [oneDNN primitive cache]).
const Primitive& primitive_for(const OneDnnApi& api, const PrimitiveKey& key) {
  auto it = g_cache.find(key);
  if (it == g_cache.end()) {
    if (g_cache.size() >= kMaxPrimitives) {
      auto oldest = g_cache.begin();
      for (auto i = g_cache.begin(); i != g_cache.end(); ++i) {
        if (i->second->last_use < oldest->second->last_use) oldest = i;
      }
      g_cache.erase(oldest);
    }
    it = g_cache.emplace(key, create(api, key)).first;
  }
  it->second->last_use = ++g_clock;
  return *it->second;
}

// The API when oneDNN is to run this call (see onednn_conv.h), else null.
const OneDnnApi* api_in_use(const OneDnnConvShape& sh) {
  if (conv_impl() != ConvImpl::OneDnn || in_parallel_region()) return nullptr;
  if (sh.n <= 0 || sh.c <= 0 || sh.h <= 0 || sh.w <= 0 || sh.k <= 0 || sh.r <= 0 || sh.s <= 0 || sh.p <= 0 ||
      sh.q <= 0) {
    return nullptr;
  }
  return onednn_api();
}

bool run(ConvPass pass, const OneDnnConvShape& sh, bool bias, bool relu, bool accumulate,
         const std::vector<void*>& buffers) {
  const OneDnnApi* api = api_in_use(sh);
  if (api == nullptr) return false;
  const PrimitiveKey key{pass, sh, bias, relu, accumulate, blocked_layout(pass, sh), num_threads()};
  std::lock_guard<std::mutex> lock(g_mutex);
  onednn_match_threads(*api);
  const Primitive& prim = primitive_for(*api, key);
  if (prim.primitive == nullptr) return false;
  execute(*api, prim, key, buffers);
  return true;
}

}  // namespace

bool onednn_conv_forward(const OneDnnConvShape& sh, const float* x, const float* w, const float* bias, bool relu,
                         bool accumulate, float* y) {
  if (relu && accumulate) {
    fail<ValueError>("conv2d (oneDNN): relu and accumulate cannot be combined (y += relu(…) is not a post-op chain "
                     "this interface offers), for ", describe(sh));
  }
  std::vector<void*> buffers{const_cast<float*>(x), const_cast<float*>(w)};
  if (bias != nullptr) buffers.push_back(const_cast<float*>(bias));
  buffers.push_back(y);
  return run(ConvPass::Forward, sh, bias != nullptr, relu, accumulate, buffers);
}

bool onednn_conv_backward_data(const OneDnnConvShape& sh, const float* dy, const float* w, float* dx) {
  return run(ConvPass::BackwardData, sh, false, false, false, {const_cast<float*>(dy), const_cast<float*>(w), dx});
}

bool onednn_conv_backward_filter(const OneDnnConvShape& sh, const float* dy, const float* x, float* dw) {
  return run(ConvPass::BackwardFilter, sh, false, false, false, {const_cast<float*>(x), const_cast<float*>(dy), dw});
}

}  // namespace newton

#else  // no oneDNN headers at build time: the built-in path always runs

#include "../error.h"

namespace newton {

bool onednn_conv_forward(const OneDnnConvShape&, const float*, const float*, const float*, bool relu, bool accumulate,
                         float*) {
  // The same argument check as with oneDNN, so that a caller's mistake shows in every build.
  if (relu && accumulate) fail<ValueError>("conv2d (oneDNN): relu and accumulate cannot be combined");
  return false;
}
bool onednn_conv_backward_data(const OneDnnConvShape&, const float*, const float*, float*) { return false; }
bool onednn_conv_backward_filter(const OneDnnConvShape&, const float*, const float*, float*) { return false; }

}  // namespace newton

#endif  // NEWTON_HAVE_ONEDNN
