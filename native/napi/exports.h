// The functions each part of the N-API layer adds to the module's exports.
#pragma once

#include <napi.h>

#include <string>

namespace newton {
namespace napi {

// ops.cpp: tensor creation, data movement and every op.
void register_ops(Napi::Env env, Napi::Object exports);
// runtime.cpp: devices, threads, GEMM implementation, memory statistics.
void register_runtime(Napi::Env env, Napi::Object exports);
// async_read.cpp: promise-returning reads.
void register_async(Napi::Env env, Napi::Object exports);

// The absolute path of the loaded .node file ("" when unknown).
const std::string& addon_path();

}  // namespace napi
}  // namespace newton
