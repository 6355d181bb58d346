// The arguments that augmentBatch (augment.cpp) and recordBatch (records.cpp) share, read in
// one place: both take (<images>, labels, order, options: NativeAugmentOptions, x, y,
// labelsOut) and differ only in where the images come from (info[0]).
#pragma once

#include <napi.h>

#include <cstdint>

#include "convert.h"
#include "core/augment.h"

namespace newton {
namespace napi {

// A typed array of dtype `want` (TypeError "<op>: <name> must be a <want_name>, got ..." else).
HostData typed_arg(const Napi::Value& v, const char* op, const char* name, DType want, const char* want_name);

// info[1..6] of augmentBatch / recordBatch, checked for type and length.
struct AugmentBatchArgs {
  AugmentSpec spec;
  const int32_t* labels = nullptr;
  int64_t num_labels = 0;  // the examples of the data set
  const int32_t* order = nullptr;
  int64_t start = 0, count = 0;
  float* x = nullptr;
  float* y = nullptr;
  int32_t* labels_out = nullptr;
};

// Reads labels, order, options (shape, classes, start, seed, epoch, crop, flip, mean, std; the
// spec checked by check_augment_spec), x, y and labelsOut, and checks the lengths of x, y and
// labelsOut against order and the options. Indices and labels are the core's to check.
AugmentBatchArgs augment_batch_args(const Napi::CallbackInfo& info, const char* op);

}  // namespace napi
}  // namespace newton
