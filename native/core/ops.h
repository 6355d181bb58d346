// Every op of the library (note [op declarations] in op.h), and the tensor creation and
// transfer functions that are not ops.
//
// NEWTON_OPS(X) lists every op struct, family by family; the N-API layer binds each of them
// to JS and the tests read the same list back (opSchemas()). A new op goes into its family's
// list; a new family adds its header and its list here.
#pragma once

#include "ops/channel.h"
#include "ops/conv.h"
#include "ops/data.h"
#include "ops/elementwise.h"
#include "ops/fused.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/pool.h"
#include "ops/random.h"
#include "ops/reduce.h"

#define NEWTON_OPS(X)          \
  NEWTON_DATA_OPS(X)           \
  NEWTON_ELEMENTWISE_OPS(X)    \
  NEWTON_REDUCE_OPS(X)         \
  NEWTON_CHANNEL_OPS(X)        \
  NEWTON_LINALG_OPS(X)         \
  NEWTON_CONV_OPS(X)           \
  NEWTON_POOL_OPS(X)           \
  NEWTON_LOSS_OPS(X)           \
  NEWTON_RANDOM_OPS(X)         \
  NEWTON_FUSED_OPS(X)

namespace newton {
namespace ops {

// Uninitialised memory of `shape` on `device` (`op` names the caller in errors).
Tensor empty(const char* op, const Shape& shape, DType dtype, Device device);
// A tensor holding t.nbytes() bytes copied from `data` (host memory of dtype's elements).
Tensor from_host(const char* op, const void* data, const Shape& shape, DType dtype, Device device);
// t.nbytes() bytes of t into host memory at `dst` (waits for queued work on a GPU).
void to_host(const Tensor& t, void* dst);
// `shape` filled with `value` (checked as fill checks it, under the name `op`).
Tensor full(const char* op, const Shape& shape, double value, DType dtype, Device device);
// A copy of x with its own memory.
Tensor clone(const char* op, const Tensor& x);

}  // namespace ops
}  // namespace newton
