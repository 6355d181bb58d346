// NativeTensor: the JS handle of a newton::Tensor.
//
// Only the addon creates them (the JS constructor refuses to run); each one is tagged with
// napi_type_tag_object and every unwrap checks the tag first, so an arbitrary JS object can
// never be mistaken for a tensor. dispose() frees the tensor's reference to its buffer at
// once (the buffer itself is freed when no view of it is left); the finalizer frees what
// was never disposed. The buffer's size is reported to V8 (AdjustExternalMemory) so that
// forgotten tensors create GC pressure.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace newton {
namespace napi {

// Per-environment state of the addon (worker threads each get their own).
struct InstanceData {
  Napi::FunctionReference tensor_constructor;
};

class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  // Defines the JS class; returns its constructor (also kept in InstanceData).
  static Napi::Function Init(Napi::Env env);

  // A new JS NativeTensor owning `t`.
  static Napi::Object Create(Napi::Env env, Tensor t);

  // The NativeTensor behind `value`, or nullptr when `value` is not one (tag checked first).
  static NativeTensor* FromValue(Napi::Value value);

  explicit NativeTensor(const Napi::CallbackInfo& info);
  ~NativeTensor() override = default;

  bool disposed() const { return disposed_; }
  // The tensor; throws DisposedError "<op>: <arg>: tensor is disposed" after dispose().
  const Tensor& tensor(const char* op, const char* arg) const;

  // Frees the tensor now; idempotent.
  void Dispose(Napi::Env env);

  void Finalize(Napi::Env env) override;

  // Metadata stays readable after dispose().
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  const std::string& device_name() const { return device_; }

 private:
  void Construct(const Napi::CallbackInfo& info);
  void Release(napi_env env) noexcept;

  Tensor tensor_;
  bool disposed_ = false;
  Shape shape_;
  DType dtype_ = DType::F32;
  std::string device_;
  int64_t reported_bytes_ = 0;  // reported to V8 as external memory
};

}  // namespace napi
}  // namespace newton
