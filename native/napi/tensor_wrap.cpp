#include "tensor_wrap.h"

#include <algorithm>

#include "convert.h"
#include "errors.h"

// Note [freeing forgotten tensors]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Node (for every stable N-API version) does not run a wrap's finalizer when V8 collects the
// JS object: it queues it and runs the queue from a SetImmediate, i.e. only when the event
// loop turns. A long synchronous loop that forgets tensors therefore kept every buffer
// (100k forgotten 64 KB tensors: 6.3 GB RSS), however often V8 collected. Running finalizers
// inside the GC needs the experimental N-API (node_api_post_finalizer, a module version that
// is not ABI-stable and whose headers node-api-headers does not ship), so instead:
//   - each tensor's buffer is reported to V8 (napi_adjust_external_memory) on creation and
//     given back exactly once (dispose, sweep or finalizer, whichever comes first), so that V8
//     collects in time;
//   - every tensor holding memory is in its environment's `live` list; V8 empties the wrap's
//     weak reference during the GC itself, so a sweep over the list finds the collected ones
//     and frees their memory at once. The C++ object itself stays until the finalizer,
//     which then finds nothing left to free;
//   - creating tensors triggers the sweep after every `sweep_threshold` bytes created (at
//     least kMinSweepBytes, else half the memory still reported), so its cost — one reference
//     lookup per live tensor — stays small next to the allocations that trigger it.
// Freeing in the sweep is safe: only this environment's thread runs it, and an op in progress
// holds its own handles (Tensor copies) to the buffers of its arguments.

namespace newton {
namespace napi {

namespace {

constexpr int64_t kMinSweepBytes = int64_t{32} << 20;

// Random 128 bits identifying newton-cnn tensors.
const napi_type_tag kTensorTag = {0x6e65776f6e636e6eULL, 0x9a3c1f57d2e84b61ULL};

// The tensor handed to the constructor by Create(); JS cannot set it, so `new NativeTensor()`
// from JS finds it empty and throws.
thread_local Tensor* g_pending = nullptr;

NativeTensor* ThisTensor(const Napi::CallbackInfo& info, const char* what) {
  NativeTensor* t = NativeTensor::FromValue(info.This());
  if (!t) {
    fail<ArgumentTypeError>("NativeTensor.", what, ": this must be a NativeTensor, got ",
                            describe(info.This()));
  }
  return t;
}

}  // namespace

Napi::Function NativeTensor::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeTensor", {});
  Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();

  using Getter = Napi::Value (*)(const Napi::CallbackInfo&, NativeTensor*);
  struct Entry {
    const char* name;
    Getter get;
  };
  static const Entry entries[] = {
      {"shape",
       [](const Napi::CallbackInfo& info, NativeTensor* t) -> Napi::Value {
         Napi::Array a = Napi::Array::New(info.Env(), t->shape_.size());
         for (std::size_t i = 0; i < t->shape_.size(); ++i) {
           a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t->shape_[i])));
         }
         return a;
       }},
      {"dtype",
       [](const Napi::CallbackInfo& info, NativeTensor* t) -> Napi::Value {
         return Napi::String::New(info.Env(), dtype_name(t->dtype_));
       }},
      {"device",
       [](const Napi::CallbackInfo& info, NativeTensor* t) -> Napi::Value {
         return Napi::String::New(info.Env(), t->device_);
       }},
      {"size",
       [](const Napi::CallbackInfo& info, NativeTensor* t) -> Napi::Value {
         return Napi::Number::New(info.Env(), static_cast<double>(shape_numel(t->shape_)));
       }},
      {"disposed",
       [](const Napi::CallbackInfo& info, NativeTensor* t) -> Napi::Value {
         return Napi::Boolean::New(info.Env(), t->disposed_);
       }},
  };
  for (const Entry& e : entries) {
    proto.DefineProperty(Napi::PropertyDescriptor::Accessor(
        env, proto, e.name,
        [](const Napi::CallbackInfo& info) -> Napi::Value {
          const Entry* entry = static_cast<const Entry*>(info.Data());
          return guard(info, "NativeTensor", [&] { return entry->get(info, ThisTensor(info, entry->name)); });
        },
        napi_enumerable, const_cast<Entry*>(&e)));
  }
  proto.DefineProperty(Napi::PropertyDescriptor::Function(
      env, proto, "dispose",
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        return guard(info, "dispose", [&] {
          ThisTensor(info, "dispose")->Dispose(info.Env());
          return info.Env().Undefined();
        });
      },
      napi_default_method));
  return ctor;
}

Napi::Object NativeTensor::Create(Napi::Env env, Tensor t) {
  InstanceData* data = env.GetInstanceData<InstanceData>();
  Tensor* previous = g_pending;
  g_pending = &t;
  Napi::Object obj;
  try {
    obj = data->tensor_constructor.New({});
  } catch (...) {
    g_pending = previous;
    throw;
  }
  g_pending = previous;
  return obj;
}

NativeTensor* NativeTensor::FromValue(Napi::Value value) {
  if (value.IsEmpty() || !value.IsObject()) return nullptr;
  Napi::Object obj = value.As<Napi::Object>();
  if (!obj.CheckTypeTag(&kTensorTag)) return nullptr;
  return NativeTensor::Unwrap(obj);
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {
  try {
    Construct(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    // node-addon-api only converts Napi::Error; never let another exception escape.
    rethrow_as_js(info.Env(), "NativeTensor");
  }
}

void NativeTensor::Construct(const Napi::CallbackInfo& info) {
  if (!g_pending) {
    throw Napi::TypeError::New(info.Env(),
                               "NativeTensor cannot be constructed from JS; use Tensor.from, Tensor.zeros "
                               "or Tensor.full");
  }
  Tensor t = std::move(*g_pending);
  g_pending = nullptr;
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
  shape_ = t.shape();
  dtype_ = t.dtype();
  device_ = t.device().name();
  // Report the buffer once: a fresh buffer is referenced by this tensor only; views that
  // share another handle's buffer (reshape) report nothing.
  const int64_t bytes = t.defined() && t.buffer().use_count() == 1 ? static_cast<int64_t>(t.buffer()->bytes()) : 0;
  tensor_ = std::move(t);
  InstanceData* data = info.Env().GetInstanceData<InstanceData>();
  if (bytes != 0) {
    int64_t ignored = 0;
    if (napi_adjust_external_memory(info.Env(), bytes, &ignored) == napi_ok) reported_bytes_ = bytes;
  }
  if (data) {
    Link(data);
    data->reported_bytes += reported_bytes_;
    data->created_since_sweep += bytes;
    if (data->created_since_sweep >= std::max(data->sweep_threshold, kMinSweepBytes)) {
      try {
        Sweep(info.Env());
      } catch (...) {
        // Only opportunistic (a handle scope could not be opened): the next creation retries.
      }
    }
  }
}

NativeTensor::~NativeTensor() { Unlink(); }

void NativeTensor::Link(InstanceData* owner) noexcept {
  owner_ = owner;
  prev_ = nullptr;
  next_ = owner->live;
  if (next_) next_->prev_ = this;
  owner->live = this;
  owner->live_count += 1;
}

void NativeTensor::Unlink() noexcept {
  if (!owner_) return;
  if (prev_) prev_->next_ = next_;
  else owner_->live = next_;
  if (next_) next_->prev_ = prev_;
  owner_->live_count -= 1;
  owner_ = nullptr;
  prev_ = next_ = nullptr;
}

std::size_t NativeTensor::Sweep(Napi::Env env) {
  InstanceData* data = env.GetInstanceData<InstanceData>();
  if (!data) return 0;
  std::size_t freed = 0;
  {
    Napi::HandleScope scope(env);
    for (NativeTensor* t = data->live; t != nullptr;) {
      NativeTensor* next = t->next_;
      // The wrap's reference (ObjectWrap's) is weak: V8 empties it when it collects the object.
      napi_value value = nullptr;
      const napi_ref ref = *t;
      if (ref != nullptr && napi_get_reference_value(env, ref, &value) == napi_ok && value == nullptr) {
        t->Release(env);
        ++freed;
      }
      t = next;
    }
  }
  data->created_since_sweep = 0;
  data->sweep_threshold = std::max(kMinSweepBytes, data->reported_bytes / 2);
  return freed;
}

InstanceData::~InstanceData() {
  while (live) live->Unlink();
}

const Tensor& NativeTensor::tensor(const char* op, const char* arg) const {
  if (disposed_) fail<DisposedError>(op, ": ", arg, ": tensor is disposed");
  return tensor_;
}

// Gives back exactly what Construct reported, once: dispose(), the sweep and the finalizer
// all come here, and only the first one frees.
void NativeTensor::Release(napi_env env) noexcept {
  if (disposed_) return;
  disposed_ = true;
  tensor_ = Tensor();
  if (owner_) owner_->reported_bytes -= reported_bytes_;
  Unlink();
  if (reported_bytes_ != 0) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, -reported_bytes_, &ignored);
    reported_bytes_ = 0;
  }
}

void NativeTensor::Dispose(Napi::Env env) { Release(env); }

void NativeTensor::Finalize(Napi::Env env) { Release(env); }

}  // namespace napi
}  // namespace newton
