// recordBatch / recordBatchAsync: the N-API face of core/record_batch.h (note [record
// batches]), for data sets of fixed-size records read from disk a batch at a time. Both take
//   (source: NativeRecordSource, labels: Int32Array, order: Int32Array, options:
//    NativeAugmentOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array)
// with source { files, offsets, counts, recordBytes, imageOffset, layout: 'chw' |
// 'hwc-columns' }; everything after the source is read as augmentBatch reads it
// (augment_batch_args, augment_args.h). The async variant copies the file names, checks the
// whole call before it queues (a bad call rejects the promise, never throws, as imageBatchAsync
// does), then opens and reads the files on a libuv worker thread whose work spreads over the
// core's pool, holding references to the typed arrays while it runs.
#include <napi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "augment_args.h"
#include "convert.h"
#include "core/augment.h"
#include "core/error.h"
#include "core/record_batch.h"
#include "errors.h"
#include "exports.h"
#include "promise_work.h"

namespace newton {
namespace napi {
namespace {

struct RecordArgs {
  RecordSource source;
  AugmentBatchArgs batch;
};

// source[key] as an array (TypeError naming source.<key> else).
Napi::Array array_field(const Napi::Object& source, const char* key, const char* what, const char* op) {
  const Napi::Value v = source.Get(key);
  if (!v.IsArray()) fail<ArgumentTypeError>(op, ": source.", key, " must be an array of ", what, ", got ", describe(v));
  return v.As<Napi::Array>();
}

std::vector<int64_t> integer_list(const Napi::Object& source, const char* key, const char* op) {
  const Napi::Array a = array_field(source, key, "non-negative integers", op);
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string name = std::string("source.") + key + "[" + std::to_string(i) + "]";
    out[i] = static_cast<int64_t>(uint_arg(a.Get(i), op, name.c_str(), name.c_str()));
  }
  return out;
}

RecordSource record_source_arg(const Napi::Value& v, const char* op) {
  if (v.IsEmpty() || v.Type() != napi_object || v.IsArray()) {
    fail<ArgumentTypeError>(op, ": source must be an object { files, offsets, counts, recordBytes, imageOffset, layout }, got ",
                            describe(v));
  }
  const Napi::Object o = v.As<Napi::Object>();
  RecordSource s;
  const Napi::Array files = array_field(o, "files", "strings", op);
  s.files.reserve(files.Length());
  for (uint32_t i = 0; i < files.Length(); ++i) {
    const Napi::Value f = files.Get(i);
    if (!f.IsString()) fail<ArgumentTypeError>(op, ": source.files[", i, "] must be a string, got ", describe(f));
    s.files.push_back(f.As<Napi::String>().Utf8Value());
  }
  s.offsets = integer_list(o, "offsets", op);
  s.counts = integer_list(o, "counts", op);
  s.record_bytes = static_cast<int64_t>(uint_arg(o.Get("recordBytes"), op, "source.recordBytes", "source.recordBytes"));
  s.image_offset = static_cast<int64_t>(uint_arg(o.Get("imageOffset"), op, "source.imageOffset", "source.imageOffset"));
  const Napi::Value layout = o.Get("layout");
  if (!layout.IsString()) fail<ArgumentTypeError>(op, ": source.layout must be 'chw' or 'hwc-columns', got ", describe(layout));
  const std::string name = layout.As<Napi::String>().Utf8Value();
  if (name == "chw") {
    s.layout = RecordLayout::Chw;
  } else if (name == "hwc-columns") {
    s.layout = RecordLayout::HwcColumns;
  } else {
    fail<ValueError>(op, ": source.layout must be 'chw' or 'hwc-columns', got '", name, "'");
  }
  const Napi::Value mean = o.Get("paperMean");
  if (!mean.IsUndefined()) {
    const HostData d = typed_array_arg(mean, op, "source.paperMean");
    if (d.dtype != DType::F32) fail<ArgumentTypeError>(op, ": source.paperMean must be a Float32Array, got ", dtype_name(d.dtype), " data");
    const float* p = static_cast<const float*>(d.data);
    s.paper_mean.assign(p, p + d.length);
  }
  return s;
}

// Everything but the files themselves, checked: what a bad call gets wrong is reported before
// any work is queued.
RecordArgs record_args(const Napi::CallbackInfo& info, const char* op) {
  RecordArgs a;
  a.source = record_source_arg(info[0], op);
  a.batch = augment_batch_args(info, op);
  const AugmentBatchArgs& b = a.batch;
  check_record_source(a.source, b.spec, b.num_labels, op);
  check_augment_batch(b.spec, b.num_labels, b.labels, b.order, b.start, b.count, op);
  return a;
}

void run(const RecordArgs& a, const char* op) {
  const AugmentBatchArgs& b = a.batch;
  record_batch(b.spec, a.source, b.labels, b.num_labels, b.order, b.start, b.count, b.x, b.y, b.labels_out, op);
}

Napi::Value RecordBatch(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "recordBatch";
  return guard(info, op, [&]() -> Napi::Value {
    run(record_args(info, op), op);
    return info.Env().Undefined();
  });
}

// recordBatchAsync: recordBatch on a libuv thread (note [promise work]); holds the source's
// arrays' owners (labels, order) and x, y, labelsOut.
Napi::Value RecordBatchAsync(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "recordBatchAsync";
  return guard(info, op, [&]() -> Napi::Value {
    return queue_promise_work<RecordArgs, Nothing>(
        info, op, {1, 2, 4, 5, 6}, [&] { return record_args(info, op); },
        [](const RecordArgs& a) {
          run(a, op);
          return Nothing{};
        },
        [](Napi::Env env, Nothing&) -> Napi::Value { return env.Undefined(); });
  });
}

}  // namespace

void register_records(Napi::Env env, Napi::Object exports) {
  exports.Set("recordBatch", Napi::Function::New(env, RecordBatch, "recordBatch"));
  exports.Set("recordBatchAsync", Napi::Function::New(env, RecordBatchAsync, "recordBatchAsync"));
}

}  // namespace napi
}  // namespace newton
