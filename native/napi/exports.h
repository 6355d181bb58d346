// The functions each part of the N-API layer adds to the module's exports.
#pragma once

#include <napi.h>

#include <string>

namespace newton {
namespace napi {

// tensors.cpp: tensor creation from JS data, reads back to JS, views.
void register_tensors(Napi::Env env, Napi::Object exports);
// ops.cpp: every op (core/ops.h), opSchemas() and supportedOps().
void register_ops(Napi::Env env, Napi::Object exports);
// runtime.cpp: devices, threads, GEMM implementation, memory statistics.
void register_runtime(Napi::Env env, Napi::Object exports);
// async_read.cpp: promise-returning reads.
void register_async(Napi::Env env, Napi::Object exports);
// linalg.cpp: host linear algebra on Float64Arrays (lapackAvailable, symmetricEigen).
void register_linalg(Napi::Env env, Napi::Object exports);
// augment.cpp: host batch assembly with augmentation (core/augment.h), sync and async.
void register_augment(Napi::Env env, Napi::Object exports);
// images.cpp: image decoding and image-file batches (core/image_codec.h, image_batch.h).
void register_images(Napi::Env env, Napi::Object exports);
// records.cpp: batches of fixed-size records read from files (core/record_batch.h).
void register_records(Napi::Env env, Napi::Object exports);
void register_profile(Napi::Env env, Napi::Object exports);
// comm.cpp: collectives between processes over MPI (core/comm.h).
void register_comm(Napi::Env env, Napi::Object exports);

// The absolute path of the loaded .node file ("" when unknown).
const std::string& addon_path();

}  // namespace napi
}  // namespace newton
