// NativeTensor: the JS handle of a newton::Tensor.
//
// Only the addon creates them (the JS constructor refuses to run); each one is tagged with
// napi_type_tag_object and every unwrap checks the tag first, so an arbitrary JS object can
// never be mistaken for a tensor. dispose() frees the tensor's reference to its buffer at
// once (the buffer itself is freed when no view of it is left); the finalizer frees what
// was never disposed. The buffer's size is reported to V8 (AdjustExternalMemory) so that
// forgotten tensors create GC pressure, and forgotten tensors are freed as soon as V8 has
// collected them, not only when the event loop turns (note [freeing forgotten tensors]).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace newton {
namespace napi {

class NativeTensor;

// Per-environment state of the addon (worker threads each get their own). Deleted when the
// environment is torn down, possibly before the finalizers of its last tensors have run.
struct InstanceData {
  InstanceData() = default;
  InstanceData(const InstanceData&) = delete;
  InstanceData& operator=(const InstanceData&) = delete;
  // Detaches every tensor still in `live`, so that a finalizer running after this never
  // touches freed memory.
  ~InstanceData();

  Napi::FunctionReference tensor_constructor;
  // lib/errors.ts's OutOfMemoryError, set by lib/native.ts (empty: plain RangeError).
  Napi::FunctionReference out_of_memory_error;

  // Tensors whose memory is not yet freed, for the sweep (note [freeing forgotten tensors]).
  NativeTensor* live = nullptr;  // head of an intrusive doubly linked list
  std::size_t live_count = 0;
  int64_t reported_bytes = 0;      // reported to V8 and not yet given back
  int64_t created_since_sweep = 0;  // bytes of tensors created since the last sweep
  int64_t sweep_threshold = 0;      // sweep when created_since_sweep reaches it
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
  // Leaves the live list (also when construction failed half-way).
  ~NativeTensor() override;

  bool disposed() const { return disposed_; }
  // The tensor; throws DisposedError "<op>: <arg>: tensor is disposed" after dispose().
  const Tensor& tensor(const char* op, const char* arg) const;

  // Frees the tensor now; idempotent.
  void Dispose(Napi::Env env);

  void Finalize(Napi::Env env) override;

  // Frees the memory of every tensor of this environment whose JS object V8 has already
  // collected but whose finalizer has not run yet; returns how many it freed.
  static std::size_t Sweep(Napi::Env env);

  // Metadata stays readable after dispose().
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  const std::string& device_name() const { return device_; }

 private:
  friend struct InstanceData;

  void Construct(const Napi::CallbackInfo& info);
  void Release(napi_env env) noexcept;
  void Link(InstanceData* owner) noexcept;
  void Unlink() noexcept;

  Tensor tensor_;
  bool disposed_ = false;
  Shape shape_;
  DType dtype_ = DType::F32;
  std::string device_;
  int64_t reported_bytes_ = 0;  // reported to V8 as external memory
  // Membership of owner_->live while the memory is held (owner_ null once unlinked).
  InstanceData* owner_ = nullptr;
  NativeTensor* prev_ = nullptr;
  NativeTensor* next_ = nullptr;
};

}  // namespace napi
}  // namespace newton
