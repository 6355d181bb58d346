// readIntoAsync(tensor, out): copies a tensor into a typed array on a worker thread and
// resolves a promise, so reading a large result (or waiting for a GPU to finish the work
// queued before it) does not block the event loop.
#include <napi.h>

#include "convert.h"
#include "core/ops.h"
#include "errors.h"
#include "exports.h"

namespace newton {
namespace napi {
namespace {

// Holds the tensor (its buffer stays alive even if the JS tensor is disposed meanwhile)
// and a reference to the destination array, whose memory it fills off the main thread.
class ReadWorker final : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Tensor tensor, Napi::Object out, void* data)
      : Napi::AsyncWorker(env, "newton-cnn:readIntoAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        tensor_(std::move(tensor)),
        out_(Napi::Persistent(out)),
        data_(data) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      if (tensor_.numel() > 0) ops::to_host(tensor_, data_);
    } catch (const std::exception& e) {
      SetError(std::string("Tensor.toArrayAsync: ") + e.what());
    } catch (...) {
      SetError("Tensor.toArrayAsync: unknown native error");
    }
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Tensor tensor_;
  Napi::ObjectReference out_;
  void* data_;
};

// The typed array type that holds `dtype` elements.
napi_typedarray_type array_type_of(DType dtype) {
  switch (dtype) {
    case DType::F32: return napi_float32_array;
    case DType::F64: return napi_float64_array;
    case DType::I32: return napi_int32_array;
  }
  return napi_float32_array;
}

Napi::Value ReadIntoAsync(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "Tensor.toArrayAsync";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    // `out` is made by lib/tensor.ts for this tensor; checked anyway, since JS can call us directly.
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != array_type_of(t.dtype())) {
      fail<ArgumentTypeError>(op, ": out must be a typed array of the tensor's dtype ", dtype_name(t.dtype()));
    }
    Napi::TypedArray out = info[1].As<Napi::TypedArray>();
    if (out.ElementLength() != static_cast<std::size_t>(t.numel())) {
      fail<ShapeError>(op, ": out has ", out.ElementLength(), " elements but tensor has shape ", fmt(t.shape()));
    }
    void* data = static_cast<char*>(out.ArrayBuffer().Data()) + out.ByteOffset();
    auto* worker = new ReadWorker(info.Env(), t, out, data);
    Napi::Promise promise = worker->promise();
    worker->Queue();  // the worker deletes itself after OnOK / OnError
    return promise;
  });
}

}  // namespace

void register_async(Napi::Env env, Napi::Object exports) {
  exports.Set("readIntoAsync", Napi::Function::New(env, ReadIntoAsync, "readIntoAsync"));
}

}  // namespace napi
}  // namespace newton
