// imageCodecs / decodeImage / imageBatch / imageBatchAsync / imageCropDraws: the N-API face of
// core/image_codec.h, image_transform.h and image_batch.h (notes [image decoding], [image
// transforms], [image batches]), for lib/data's image-folder loader. imageBatch(Async) take
//   (files: string[], labels: Int32Array, order: Int32Array, options, x: Float32Array,
//    y: Float32Array, labelsOut: Int32Array)
// with options { channels, size: [h, w], classes, start, seed, epoch, transform, scale?,
// ratio?, resizeTo?, flip?, mean?, std? }; order holds the data set indices of positions
// [start, start + order.length). Only the files and labels those indices name are copied out
// of JS (a million-file array is not walked per batch); the async variant copies them before
// it queues, so the worker thread touches no JS value, and holds references to the output
// arrays while it runs. imageBatchAsync reports a bad call by rejecting, never by throwing.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "core/error.h"
#include "core/image_batch.h"
#include "core/image_codec.h"
#include "core/image_transform.h"
#include "errors.h"
#include "exports.h"
#include "promise_work.h"

namespace newton {
namespace napi {
namespace {

// Everything one imageBatch call needs, in plain C++.
struct ImageBatchArgs {
  ImageTransformSpec spec;
  int64_t classes = 0;
  int64_t start = 0;
  std::vector<ImageBatchItem> items;
  float* x = nullptr;
  float* y = nullptr;
  int32_t* labels_out = nullptr;
};

struct ImageBatchOutcome {
  int64_t count = 0;
  std::vector<ImageFailure> failed;
};

HostData typed(const Napi::Value& v, const char* op, const char* name, DType want, const char* want_name) {
  const HostData d = typed_array_arg(v, op, name);
  if (d.dtype != want) fail<ArgumentTypeError>(op, ": ", name, " must be a ", want_name, ", got ", dtype_name(d.dtype), " data");
  return d;
}

// mean / std: a Float32Array or an array of numbers; undefined -> empty.
std::vector<float> float_list(const Napi::Object& options, const char* key, const char* op, const char* name) {
  const Napi::Value v = options.Get(key);
  std::vector<float> out;
  if (v.IsUndefined()) return out;
  if (!v.IsTypedArray() && !v.IsArray()) fail<ArgumentTypeError>(op, ": ", name, " must be an array of numbers, got ", describe(v));
  const Napi::Object a = v.As<Napi::Object>();
  const uint32_t n = v.IsArray() ? v.As<Napi::Array>().Length() : static_cast<uint32_t>(v.As<Napi::TypedArray>().ElementLength());
  for (uint32_t i = 0; i < n; ++i) {
    const std::string item = std::string(name) + "[" + std::to_string(i) + "]";
    out.push_back(static_cast<float>(number_arg(a.Get(i), op, item.c_str())));
  }
  return out;
}

// scale / ratio: [number, number]; undefined -> nullopt.
std::optional<std::pair<double, double>> number_pair(const Napi::Object& options, const char* key, const char* op) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return std::nullopt;
  if (v.IsArray() && v.As<Napi::Array>().Length() == 2) {
    const Napi::Array a = v.As<Napi::Array>();
    const Napi::Value lo = a.Get(uint32_t{0}), hi = a.Get(uint32_t{1});
    if (lo.IsNumber() && hi.IsNumber()) return std::make_pair(lo.As<Napi::Number>().DoubleValue(), hi.As<Napi::Number>().DoubleValue());
  }
  fail<ArgumentTypeError>(op, ": options.", key, " must be [number, number], got ",
                          v.IsArray() ? "array of length " + std::to_string(v.As<Napi::Array>().Length()) : describe(v));
}

ImageTransformKind transform_kind(const Napi::Value& v, const char* op) {
  if (!v.IsString()) {
    fail<ArgumentTypeError>(op, ": options.transform must be 'random-resized-crop', 'center-crop' or 'stretch', got ", describe(v));
  }
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "random-resized-crop") return ImageTransformKind::RandomResizedCrop;
  if (s == "center-crop") return ImageTransformKind::CenterCrop;
  if (s == "stretch") return ImageTransformKind::Stretch;
  fail<ValueError>(op, ": transform must be 'random-resized-crop', 'center-crop' or 'stretch', got '", s, "'");
}

// The transform part of NativeImageBatchOptions (classes and start are imageBatch's own).
ImageTransformSpec transform_spec(const Napi::Object& options, const char* op) {
  ImageTransformSpec s;
  s.channels = static_cast<int64_t>(uint_arg(options.Get("channels"), op, "options.channels", "channels"));
  const auto size = int_pair_option(options, "size", op, "a positive integer");
  if (!size) fail<ArgumentTypeError>(op, ": options.size must be [h, w], got undefined");
  s.out_h = size->first;
  s.out_w = size->second;
  s.kind = transform_kind(options.Get("transform"), op);
  if (const auto scale = number_pair(options, "scale", op)) {
    s.scale_lo = scale->first;
    s.scale_hi = scale->second;
  }
  if (const auto ratio = number_pair(options, "ratio", op)) {
    s.ratio_lo = ratio->first;
    s.ratio_hi = ratio->second;
  }
  const Napi::Value resize_to = options.Get("resizeTo");
  if (s.kind == ImageTransformKind::CenterCrop || !resize_to.IsUndefined()) {
    s.resize_to = static_cast<int64_t>(uint_arg(resize_to, op, "options.resizeTo", "resizeTo"));
  }
  s.flip = optional_bool_arg(options.Get("flip"), op, "options.flip", false);
  s.mean = float_list(options, "mean", op, "options.mean");
  s.std = float_list(options, "std", op, "options.std");
  s.seed = uint_arg(options.Get("seed"), op, "options.seed", "seed");
  s.epoch = uint_arg(options.Get("epoch"), op, "options.epoch", "epoch");
  check_image_transform_spec(s, op);
  return s;
}

ImageBatchArgs image_batch_args(const Napi::CallbackInfo& info, const char* op) {
  ImageBatchArgs a;
  if (!info[0].IsArray()) fail<ArgumentTypeError>(op, ": files must be an array of strings, got ", describe(info[0]));
  const Napi::Array files = info[0].As<Napi::Array>();
  const HostData labels = typed(info[1], op, "labels", DType::I32, "Int32Array");
  const HostData order = typed(info[2], op, "order", DType::I32, "Int32Array");
  const Napi::Object options = options_arg(info[3], op, true);
  const HostData x = typed(info[4], op, "x", DType::F32, "Float32Array");
  const HostData y = typed(info[5], op, "y", DType::F32, "Float32Array");
  const HostData out_labels = typed(info[6], op, "labelsOut", DType::I32, "Int32Array");

  a.spec = transform_spec(options, op);
  a.classes = static_cast<int64_t>(uint_arg(options.Get("classes"), op, "options.classes", "classes"));
  if (a.classes < 1) fail<ValueError>(op, ": classes must be a positive integer, got ", a.classes);
  a.start = static_cast<int64_t>(uint_arg(options.Get("start"), op, "options.start", "start"));

  const int64_t num_files = files.Length();
  if (static_cast<int64_t>(labels.length) != num_files) {
    fail<ShapeError>(op, ": labels has ", labels.length, " values but files has ", num_files);
  }
  const int64_t count = static_cast<int64_t>(order.length);
  const int64_t row = a.spec.channels * a.spec.out_h * a.spec.out_w;
  if (static_cast<int64_t>(x.length) != count * row) {
    fail<ShapeError>(op, ": x has ", x.length, " values but ", count, " images of ", a.spec.channels, "×", a.spec.out_h, "×",
                     a.spec.out_w, " need ", count * row);
  }
  if (static_cast<int64_t>(y.length) != count * a.classes) {
    fail<ShapeError>(op, ": y has ", y.length, " values but ", count, " one-hot rows of ", a.classes, " need ", count * a.classes);
  }
  if (static_cast<int64_t>(out_labels.length) != count) {
    fail<ShapeError>(op, ": labelsOut has ", out_labels.length, " values, expected ", count);
  }
  const auto* idx = static_cast<const int32_t*>(order.data);
  const auto* lab = static_cast<const int32_t*>(labels.data);
  a.items.resize(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = idx[i];
    if (j < 0 || j >= num_files) fail<ValueError>(op, ": order[", i, "] = ", j, " is outside [0, ", num_files, ")");
    const Napi::Value f = files.Get(static_cast<uint32_t>(j));
    if (!f.IsString()) fail<ArgumentTypeError>(op, ": files[", j, "] must be a string, got ", describe(f));
    a.items[i] = ImageBatchItem{f.As<Napi::String>().Utf8Value(), lab[j], j};
  }
  check_image_batch(a.spec, a.classes, a.items, a.start, op);
  a.x = static_cast<float*>(const_cast<void*>(x.data));
  a.y = static_cast<float*>(const_cast<void*>(y.data));
  a.labels_out = static_cast<int32_t*>(const_cast<void*>(out_labels.data));
  return a;
}

ImageBatchOutcome run(const ImageBatchArgs& a, const char* op) {
  ImageBatchOutcome r;
  r.count = image_batch(a.spec, a.classes, a.items, a.start, a.x, a.y, a.labels_out, r.failed, op);
  return r;
}

Napi::Object outcome_object(Napi::Env env, const ImageBatchOutcome& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", Napi::Number::New(env, static_cast<double>(r.count)));
  Napi::Array failed = Napi::Array::New(env, r.failed.size());
  for (std::size_t i = 0; i < r.failed.size(); ++i) {
    Napi::Object f = Napi::Object::New(env);
    f.Set("position", Napi::Number::New(env, static_cast<double>(r.failed[i].position)));
    f.Set("file", Napi::String::New(env, r.failed[i].file));
    f.Set("message", Napi::String::New(env, r.failed[i].message));
    failed.Set(static_cast<uint32_t>(i), f);
  }
  o.Set("failed", failed);
  return o;
}

Napi::Value ImageBatch(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "imageBatch";
  return guard(info, op, [&]() -> Napi::Value { return outcome_object(info.Env(), run(image_batch_args(info, op), op)); });
}

// imageBatchAsync: imageBatch on a libuv thread (note [promise work]); holds x, y, labelsOut.
Napi::Value ImageBatchAsync(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "imageBatchAsync";
  return guard(info, op, [&]() -> Napi::Value {
    return queue_promise_work<ImageBatchArgs, ImageBatchOutcome>(
        info, op, {4, 5, 6}, [&] { return image_batch_args(info, op); },
        [](const ImageBatchArgs& a) { return run(a, op); },
        [](Napi::Env env, ImageBatchOutcome& r) -> Napi::Value { return outcome_object(env, r); });
  });
}

Napi::Object codec_object(Napi::Env env, const CodecInfo& c) {
  Napi::Object o = Napi::Object::New(env);
  if (c.library.empty()) {
    o.Set("library", env.Null());
    o.Set("reason", Napi::String::New(env, c.reason));
  } else {
    o.Set("library", Napi::String::New(env, c.library));
  }
  return o;
}

// imageCodecs() -> { jpeg, png }: each { library } or { library: null, reason }.
Napi::Value ImageCodecs(const Napi::CallbackInfo& info) {
  return guard(info, "imageCodecs", [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("jpeg", codec_object(info.Env(), jpeg_codec()));
    o.Set("png", codec_object(info.Env(), png_codec()));
    return o;
  });
}

// decodeImage(bytes: Uint8Array, channels: 1 | 3) -> { data: Uint8Array (HWC), width, height,
// channels }.
Napi::Value DecodeImage(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "decodeImage";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      fail<ArgumentTypeError>(op, ": bytes must be a Uint8Array, got ",
                              v.IsTypedArray() ? typed_array_name(v.As<Napi::TypedArray>().TypedArrayType()) : describe(v));
    }
    const Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
    const double channels = number_arg(info[1], op, "channels");
    if (channels != 1 && channels != 3) fail<ValueError>(op, ": channels must be 1 or 3, got ", channels);
    DecodedImage image;
    try {
      decode_image(bytes.Data(), bytes.ElementLength(), static_cast<int>(channels), image);
    } catch (const Error& e) {
      fail<Error>(op, ": ", e.what());  // the core's message names no function
    }
    Napi::Env env = info.Env();
    Napi::Uint8Array data = Napi::Uint8Array::New(env, image.pixels.size());
    std::copy(image.pixels.begin(), image.pixels.end(), data.Data());
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", data);
    o.Set("width", Napi::Number::New(env, static_cast<double>(image.width)));
    o.Set("height", Napi::Number::New(env, static_cast<double>(image.height)));
    o.Set("channels", Napi::Number::New(env, static_cast<double>(image.channels)));
    return o;
  });
}

// imageCropDraws(options, width, height, start, count) -> Int32Array [top, left, height,
// width, flip] × count: the windows of positions [start, start + count) for a width × height
// source (for 'center-crop', the window of the resized image), for the tests' reference.
Napi::Value ImageCropDraws(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "imageCropDraws";
  return guard(info, op, [&]() -> Napi::Value {
    const ImageTransformSpec s = transform_spec(options_arg(info[0], op, true), op);
    const uint64_t width = uint_arg(info[1], op, "width", "width");
    const uint64_t height = uint_arg(info[2], op, "height", "height");
    const uint64_t start = uint_arg(info[3], op, "start", "start");
    const uint64_t count = uint_arg(info[4], op, "count", "count");
    for (const auto& [name, value] : {std::make_pair("width", width), std::make_pair("height", height)}) {
      if (value < 1 || value > static_cast<uint64_t>(kMaxImageSide)) {
        fail<ValueError>(op, ": ", name, " must be an integer from 1 to 32768, got ", value);
      }
    }
    if (count > (uint64_t{1} << 24) || start + count > (uint64_t{1} << 32)) {
      fail<ValueError>(op, ": positions [", start, ", ", start + count, ") must lie in [0, 2^32), at most 2^24 of them");
    }
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), static_cast<std::size_t>(count * 5));
    for (uint64_t i = 0; i < count; ++i) {
      const ImageWindow w = image_window(s, static_cast<int64_t>(width), static_cast<int64_t>(height), start + i);
      const bool center = s.kind == ImageTransformKind::CenterCrop;
      out[5 * i] = static_cast<int32_t>(center ? w.crop_top : w.top);
      out[5 * i + 1] = static_cast<int32_t>(center ? w.crop_left : w.left);
      out[5 * i + 2] = static_cast<int32_t>(center ? s.out_h : w.height);
      out[5 * i + 3] = static_cast<int32_t>(center ? s.out_w : w.width);
      out[5 * i + 4] = w.flip ? 1 : 0;
    }
    return out;
  });
}

}  // namespace

void register_images(Napi::Env env, Napi::Object exports) {
  exports.Set("imageCodecs", Napi::Function::New(env, ImageCodecs, "imageCodecs"));
  exports.Set("decodeImage", Napi::Function::New(env, DecodeImage, "decodeImage"));
  exports.Set("imageBatch", Napi::Function::New(env, ImageBatch, "imageBatch"));
  exports.Set("imageBatchAsync", Napi::Function::New(env, ImageBatchAsync, "imageBatchAsync"));
  exports.Set("imageCropDraws", Napi::Function::New(env, ImageCropDraws, "imageCropDraws"));
}

}  // namespace napi
}  // namespace newton
