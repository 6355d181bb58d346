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

  // After worker.terminate() the copy may finish while the worker's environment is being torn
  // down (Node waits for queued work before it deletes the environment): settling the promise
  // then fails, and no JS will ever look at it, so the failure is dropped here. Nothing may
  // escape these callbacks: an exception thrown out of them would abort the process.
  void OnOK() override {
    Settle([&] { deferred_.Resolve(Env().Undefined()); });
  }
  void OnError(const Napi::Error& e) override {
    Settle([&] { deferred_.Reject(e.Value()); });
  }

 private:
  template <typename F>
  static void Settle(F&& settle) noexcept {
    try {
      settle();
    } catch (...) {
      // The environment is stopping (see above).
    }
  }

  Napi::Promise::Deferred deferred_;
  Tensor tensor_;
  Napi::ObjectReference out_;
  void* data_;
};

Napi::Value ReadIntoAsync(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "Tensor.toArrayAsync";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "tensor");
    // `out` is made by lib/tensor.ts for this tensor; checked anyway, since JS can call us directly.
    const HostData out = typed_array_arg(info[1], op, "out");
    if (out.dtype != t.dtype()) {
      fail<ShapeError>(op, ": out has dtype ", dtype_name(out.dtype), " but tensor has ", dtype_name(t.dtype()));
    }
    if (out.length != static_cast<std::size_t>(t.numel())) {
      fail<ShapeError>(op, ": out has ", out.length, " elements but tensor has shape ", fmt(t.shape()));
    }
    auto* worker = new ReadWorker(info.Env(), t, info[1].As<Napi::Object>(), const_cast<void*>(out.data));
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
