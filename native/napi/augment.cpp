// augmentBatch / augmentBatchAsync: the N-API face of core/augment.h (note [batch
// augmentation]), for lib/data/loader.ts. Both take
//   (images: Float32Array, labels: Int32Array, order: Int32Array, options, x: Float32Array,
//    y: Float32Array, labelsOut: Int32Array)
// with options { shape: [C, H, W], classes, start, seed, epoch, crop?: { size: [h, w],
// padding }, flip?, mean?, std? }; order holds the indices of positions [start, start +
// order.length). The sync one is for tests; the async one runs on a libuv worker thread
// (whose work then spreads over the core's pool) and resolves a Promise, holding references to
// every array so that none is collected while it runs. The reader of the arguments after the
// images (augment_batch_args, augment_args.h) is recordBatch's too (records.cpp).
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "augment_args.h"
#include "convert.h"
#include "core/augment.h"
#include "core/error.h"
#include "errors.h"
#include "exports.h"
#include "promise_work.h"

namespace newton {
namespace napi {

namespace {

std::vector<float> float_list(const Napi::Object& options, const char* key, const char* op, const char* name) {
  const Napi::Value v = options.Get(key);
  std::vector<float> out;
  if (v.IsUndefined()) return out;
  if (v.IsTypedArray() || v.IsArray()) {
    const Napi::Object a = v.As<Napi::Object>();
    const uint32_t n = v.IsArray() ? v.As<Napi::Array>().Length() : static_cast<uint32_t>(v.As<Napi::TypedArray>().ElementLength());
    for (uint32_t i = 0; i < n; ++i) {
      const std::string item = std::string(name) + "[" + std::to_string(i) + "]";
      out.push_back(static_cast<float>(number_arg(a.Get(i), op, item.c_str())));
    }
    return out;
  }
  fail<ArgumentTypeError>(op, ": ", name, " must be an array of numbers, got ", describe(v));
}

int64_t int_option(const Napi::Object& o, const char* key, const char* op, const char* name) {
  return static_cast<int64_t>(uint_arg(o.Get(key), op, name, name));
}

// The image shape, the (seed, epoch) of the draws, the crop and the flip of `options` into `s`.
// augmentDraws may leave the crop size out (the crop then keeps the image size).
void read_geometry(const Napi::Object& options, const char* op, bool crop_size_required, AugmentSpec& s) {
  const Shape shape = shape_arg(options.Get("shape"), op, "options.shape");
  if (shape.size() != 3) fail<ShapeError>(op, ": options.shape must be [C, H, W], got ", fmt(shape));
  s.channels = shape[0];
  s.height = shape[1];
  s.width = shape[2];
  s.seed = uint_arg(options.Get("seed"), op, "options.seed", "seed");
  s.epoch = uint_arg(options.Get("epoch"), op, "options.epoch", "epoch");
  const Napi::Value crop = options.Get("crop");
  if (!crop.IsUndefined() && !crop.IsNull()) {
    const Napi::Object c = options_arg(crop, op, true);
    const auto size = int_pair_option(c, "size", op, "a positive integer");
    if (size) {
      s.crop_h = size->first;
      s.crop_w = size->second;
    } else if (crop_size_required) {
      fail<ArgumentTypeError>(op, ": options.crop.size must be a number or [h, w]");
    }
    s.padding = int_option(c, "padding", op, "options.crop.padding");
  }
  s.flip = optional_bool_arg(options.Get("flip"), op, "options.flip", false);
}

}  // namespace

HostData typed_arg(const Napi::Value& v, const char* op, const char* name, DType want, const char* want_name) {
  const HostData d = typed_array_arg(v, op, name);
  if (d.dtype != want) fail<ArgumentTypeError>(op, ": ", name, " must be a ", want_name, ", got ", dtype_name(d.dtype), " data");
  return d;
}

AugmentBatchArgs augment_batch_args(const Napi::CallbackInfo& info, const char* op) {
  AugmentBatchArgs a;
  const HostData labels = typed_arg(info[1], op, "labels", DType::I32, "Int32Array");
  const HostData order = typed_arg(info[2], op, "order", DType::I32, "Int32Array");
  const Napi::Object options = options_arg(info[3], op, true);
  const HostData x = typed_arg(info[4], op, "x", DType::F32, "Float32Array");
  const HostData y = typed_arg(info[5], op, "y", DType::F32, "Float32Array");
  const HostData out_labels = typed_arg(info[6], op, "labelsOut", DType::I32, "Int32Array");

  AugmentSpec& s = a.spec;
  read_geometry(options, op, /*crop_size_required=*/true, s);
  s.classes = int_option(options, "classes", op, "options.classes");
  s.mean = float_list(options, "mean", op, "options.mean");
  s.std = float_list(options, "std", op, "options.std");
  check_augment_spec(s, op);

  const int64_t oh = s.crop_h > 0 ? s.crop_h : s.height, ow = s.crop_w > 0 ? s.crop_w : s.width;
  a.num_labels = static_cast<int64_t>(labels.length);
  a.start = int_option(options, "start", op, "options.start");
  a.count = static_cast<int64_t>(order.length);
  if (static_cast<int64_t>(x.length) != a.count * s.channels * oh * ow) {
    fail<ShapeError>(op, ": x has ", x.length, " values but ", a.count, " images of ", s.channels, "×", oh, "×", ow, " need ",
                     a.count * s.channels * oh * ow);
  }
  if (static_cast<int64_t>(y.length) != a.count * s.classes) {
    fail<ShapeError>(op, ": y has ", y.length, " values but ", a.count, " one-hot rows of ", s.classes, " need ", a.count * s.classes);
  }
  if (static_cast<int64_t>(out_labels.length) != a.count) {
    fail<ShapeError>(op, ": labelsOut has ", out_labels.length, " values, expected ", a.count);
  }
  a.labels = static_cast<const int32_t*>(labels.data);
  a.order = static_cast<const int32_t*>(order.data);
  a.x = static_cast<float*>(const_cast<void*>(x.data));
  a.y = static_cast<float*>(const_cast<void*>(y.data));
  a.labels_out = static_cast<int32_t*>(const_cast<void*>(out_labels.data));
  return a;
}

namespace {

// augmentBatch's arrays: the images in memory and the rest.
struct AugmentArgs {
  const float* images = nullptr;
  AugmentBatchArgs batch;
};

AugmentArgs augment_args(const Napi::CallbackInfo& info, const char* op) {
  AugmentArgs a;
  const HostData images = typed_arg(info[0], op, "images", DType::F32, "Float32Array");
  a.batch = augment_batch_args(info, op);
  const AugmentSpec& s = a.batch.spec;
  const int64_t in_size = s.channels * s.height * s.width;
  const int64_t n = a.batch.num_labels;
  if (static_cast<int64_t>(images.length) != n * in_size) {
    fail<ShapeError>(op, ": images has ", images.length, " values but ", n, " labels of shape ",
                     fmt(Shape{s.channels, s.height, s.width}), " need ", n * in_size);
  }
  a.images = static_cast<const float*>(images.data);
  return a;
}

void run(const AugmentArgs& a, const char* op) {
  const AugmentBatchArgs& b = a.batch;
  augment_batch(b.spec, a.images, b.num_labels, b.labels, b.order, b.start, b.count, b.x, b.y, b.labels_out, op);
}

Napi::Value AugmentBatch(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "augmentBatch";
  return guard(info, op, [&]() -> Napi::Value {
    run(augment_args(info, op), op);
    return info.Env().Undefined();
  });
}

// augmentBatchAsync: augmentBatch on a libuv thread (note [promise work]); holds the images,
// labels, order and the outputs.
Napi::Value AugmentBatchAsync(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "augmentBatchAsync";
  return guard(info, op, [&]() -> Napi::Value {
    return queue_promise_work<AugmentArgs, Nothing>(
        info, op, {0, 1, 2, 4, 5, 6}, [&] { return augment_args(info, op); },
        [](const AugmentArgs& a) {
          run(a, op);
          return Nothing{};
        },
        [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
  });
}

// augmentDraws(options, start, count) -> Int32Array [dy, dx, flip] × count: the draws of
// positions [start, start + count), for the tests' reference implementation.
Napi::Value AugmentDraws(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "augmentDraws";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Object options = options_arg(info[0], op, true);
    AugmentSpec s;
    read_geometry(options, op, /*crop_size_required=*/false, s);
    s.classes = 1;
    check_augment_spec(s, op);
    const uint64_t start = uint_arg(info[1], op, "start", "start");
    const uint64_t count = uint_arg(info[2], op, "count", "count");
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), static_cast<std::size_t>(count * 3));
    for (uint64_t i = 0; i < count; ++i) {
      const AugmentDraw d = augment_draw(s, start + i);
      out[3 * i] = static_cast<int32_t>(d.dy);
      out[3 * i + 1] = static_cast<int32_t>(d.dx);
      out[3 * i + 2] = d.flip ? 1 : 0;
    }
    return out;
  });
}

}  // namespace

void register_augment(Napi::Env env, Napi::Object exports) {
  exports.Set("augmentBatch", Napi::Function::New(env, AugmentBatch, "augmentBatch"));
  exports.Set("augmentBatchAsync", Napi::Function::New(env, AugmentBatchAsync, "augmentBatchAsync"));
  exports.Set("augmentDraws", Napi::Function::New(env, AugmentDraws, "augmentDraws"));
}

}  // namespace napi
}  // namespace newton
