#include "tensor_wrap.h"

#include "convert.h"
#include "errors.h"

namespace newton {
namespace napi {

namespace {

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
  if (t.defined() && t.buffer().use_count() == 1) {
    reported_bytes_ = static_cast<int64_t>(t.buffer()->bytes());
    int64_t ignored = 0;
    napi_adjust_external_memory(info.Env(), reported_bytes_, &ignored);
  }
  tensor_ = std::move(t);
}

const Tensor& NativeTensor::tensor(const char* op, const char* arg) const {
  if (disposed_) fail<DisposedError>(op, ": ", arg, ": tensor is disposed");
  return tensor_;
}

void NativeTensor::Release(napi_env env) noexcept {
  if (disposed_) return;
  disposed_ = true;
  tensor_ = Tensor();
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
