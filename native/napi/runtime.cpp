// Runtime functions: devices, BLAS and GEMM implementation, oneDNN and the convolution
// implementation, threads, memory statistics.
#include <limits>
#include <napi.h>

#include <cmath>
#include <string>

#include "convert.h"
#include "core/allocator.h"
#include "core/cpu/cpu_backend.h"
#include "core/cpu/onednn_conv.h"
#include "core/cpu/isa.h"
#include "core/error.h"
#include "core/op.h"
#include "core/parallel.h"
#include "core/registry.h"
#include "errors.h"
#include "exports.h"
#include "tensor_wrap.h"

namespace newton {
namespace napi {

namespace {

using Info = Napi::CallbackInfo;

Napi::Value Devices(const Info& info) {
  return guard(info, "devices", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const std::vector<DeviceInfo> list = list_devices();
    Napi::Array result = Napi::Array::New(env, list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      const DeviceInfo& d = list[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", d.name);
      o.Set("kind", d.kind);
      o.Set("available", d.available);
      o.Set("description", d.description);
      o.Set("reason", d.reason);
      result.Set(static_cast<uint32_t>(i), o);
    }
    return result;
  });
}

Napi::Value BlasName(const Info& info) {
  return guard(info, "info", [&]() -> Napi::Value { return Napi::String::New(info.Env(), blas_name()); });
}

Napi::Value BlasAvailable(const Info& info) {
  return guard(info, "blasAvailable", [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), blas_available()); });
}

Napi::Value GetNumThreads(const Info& info) {
  return guard(info, "getNumThreads", [&]() -> Napi::Value { return Napi::Number::New(info.Env(), num_threads()); });
}

Napi::Value SetNumThreads(const Info& info) {
  static constexpr const char* op = "setNumThreads";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsNumber()) fail<ArgumentTypeError>(op, ": n must be a number, got ", describe(v));
    const double n = v.As<Napi::Number>().DoubleValue();
    if (!(n == std::floor(n) && n >= 1 && n <= 256)) {
      fail<ValueError>(op, ": n must be an integer from 1 to 256, got ", js_number_string(v));
    }
    set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

Napi::Value GetGemmImplementation(const Info& info) {
  return guard(info, "getGemmImplementation", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), gemm_impl() == GemmImpl::Blas ? "blas" : "builtin");
  });
}

Napi::Value SetGemmImplementation(const Info& info) {
  static constexpr const char* op = "setGemmImplementation";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsString()) fail<ArgumentTypeError>(op, ": impl must be 'blas' or 'builtin', got ", describe(v));
    const std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "blas") {
      if (!blas_available()) {
        fail<ValueError>(op, ": impl 'blas' is not available: this build has no BLAS (", blas_name(), " GEMM only)");
      }
      set_gemm_impl(GemmImpl::Blas);
    } else if (s == "builtin") {
      set_gemm_impl(GemmImpl::Builtin);
    } else {
      fail<ValueError>(op, ": impl must be 'blas' or 'builtin', got '", s, "'");
    }
    return info.Env().Undefined();
  });
}

Napi::Value GetConvImplementation(const Info& info) {
  return guard(info, "getConvImplementation", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), conv_impl() == ConvImpl::OneDnn ? "onednn" : "builtin");
  });
}

Napi::Value SetConvImplementation(const Info& info) {
  static constexpr const char* op = "setConvImplementation";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsString()) fail<ArgumentTypeError>(op, ": impl must be 'onednn' or 'builtin', got ", describe(v));
    const std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "onednn") {
      set_conv_impl(ConvImpl::OneDnn);  // ValueError naming why when oneDNN is unavailable
    } else if (s == "builtin") {
      set_conv_impl(ConvImpl::Builtin);
    } else {
      fail<ValueError>(op, ": impl must be 'onednn' or 'builtin', got '", s, "'");
    }
    return info.Env().Undefined();
  });
}

// The CPU kernels' vector ISA (note [run-time ISA] in core/cpu/isa.h).
Napi::Value GetCpuIsa(const Info& info) {
  return guard(info, "getCpuIsa", [&]() -> Napi::Value { return Napi::String::New(info.Env(), cpu_isa_name(cpu_isa())); });
}

Napi::Value SupportedCpuIsas(const Info& info) {
  return guard(info, "info", [&]() -> Napi::Value {
    const std::vector<CpuIsa> list = supported_cpu_isas();
    Napi::Array result = Napi::Array::New(info.Env(), list.size());
    for (std::size_t i = 0; i < list.size(); ++i) result.Set(static_cast<uint32_t>(i), cpu_isa_name(list[i]));
    return result;
  });
}

Napi::Value SetCpuIsa(const Info& info) {
  static constexpr const char* op = "setCpuIsa";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsString()) fail<ArgumentTypeError>(op, ": isa must be 'baseline', 'avx2' or 'avx512', got ", describe(v));
    set_cpu_isa(parse_cpu_isa(v.As<Napi::String>().Utf8Value(), "setCpuIsa: isa"));
    return info.Env().Undefined();
  });
}

// oneDnnInfo(): { available, version, library, reason } (core/cpu/onednn_conv.h).
Napi::Value OneDnnInfo(const Info& info) {
  return guard(info, "oneDnnInfo", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", Napi::Boolean::New(env, onednn_available()));
    o.Set("version", Napi::String::New(env, onednn_version()));
    o.Set("library", Napi::String::New(env, onednn_library()));
    o.Set("reason", Napi::String::New(env, onednn_missing()));
    return o;
  });
}

Napi::Value MemoryStatsFn(const Info& info) {
  static constexpr const char* op = "memoryStats";
  return guard(info, op, [&]() -> Napi::Value {
    const Device device = device_arg(info[0], op, "device");
    require_device(device, op);
    const MemoryStats s =
        device.kind == DeviceKind::CPU ? cpu_allocator().stats() : backend_for(device).allocator().stats();
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytesInUse", Napi::Number::New(env, static_cast<double>(s.bytes_in_use)));
    o.Set("peakBytesInUse", Napi::Number::New(env, static_cast<double>(s.peak_bytes_in_use)));
    o.Set("bytesCached", Napi::Number::New(env, static_cast<double>(s.bytes_cached)));
    o.Set("allocations", Napi::Number::New(env, static_cast<double>(s.allocations)));
    const bool unlimited = s.cache_limit_bytes == static_cast<std::size_t>(-1);
    o.Set("cacheLimitBytes",
          Napi::Number::New(env, unlimited ? std::numeric_limits<double>::infinity() : static_cast<double>(s.cache_limit_bytes)));
    return o;
  });
}

Napi::Value EmptyCacheFn(const Info& info) {
  static constexpr const char* op = "emptyCache";
  return guard(info, op, [&]() -> Napi::Value {
    const Device device = device_arg(info[0], op, "device");
    require_device(device, op);
    Allocator& allocator = device.kind == DeviceKind::CPU ? cpu_allocator() : backend_for(device).allocator();
    return Napi::Number::New(info.Env(), static_cast<double>(allocator.release_cache()));
  });
}

// setDebugChecks(on): note [debug checks] in core/op.h.
Napi::Value SetDebugChecks(const Info& info) {
  static constexpr const char* op = "setDebugChecks";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value v = info[0];
    if (!v.IsBoolean()) fail<ArgumentTypeError>(op, ": on must be a boolean, got ", describe(v));
    set_debug_checks(v.As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

Napi::Value GetDebugChecks(const Info& info) {
  return guard(info, "getDebugChecks", [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), debug_checks()); });
}

// setErrorClasses({ OutOfMemoryError }): the JS classes native errors become (lib/native.ts).
Napi::Value SetErrorClasses(const Info& info) {
  static constexpr const char* op = "setErrorClasses";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Object classes = options_arg(info[0], op, true);
    const Napi::Value oom = classes.Get("OutOfMemoryError");
    if (!oom.IsFunction()) fail<ArgumentTypeError>(op, ": OutOfMemoryError must be a function, got ", describe(oom));
    InstanceData* data = info.Env().GetInstanceData<InstanceData>();
    data->out_of_memory_error = Napi::Persistent(oom.As<Napi::Function>());
    return info.Env().Undefined();
  });
}

// trackedTensors(): { live, reportedBytes } of this environment's tensors that still hold
// memory (note [freeing forgotten tensors] in tensor_wrap.cpp); for tests.
Napi::Value TrackedTensors(const Info& info) {
  return guard(info, "trackedTensors", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    InstanceData* data = env.GetInstanceData<InstanceData>();
    Napi::Object o = Napi::Object::New(env);
    o.Set("live", Napi::Number::New(env, static_cast<double>(data->live_count)));
    o.Set("reportedBytes", Napi::Number::New(env, static_cast<double>(data->reported_bytes)));
    return o;
  });
}

// sweepTensors(): frees the memory of tensors V8 has collected now; returns how many.
Napi::Value SweepTensors(const Info& info) {
  return guard(info, "sweepTensors", [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(NativeTensor::Sweep(info.Env())));
  });
}

Napi::Value AddonPath(const Info& info) {
  return guard(info, "info", [&]() -> Napi::Value { return Napi::String::New(info.Env(), addon_path()); });
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("devices", Napi::Function::New(env, Devices, "devices"));
  exports.Set("blasName", Napi::Function::New(env, BlasName, "blasName"));
  exports.Set("blasAvailable", Napi::Function::New(env, BlasAvailable, "blasAvailable"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getGemmImplementation", Napi::Function::New(env, GetGemmImplementation, "getGemmImplementation"));
  exports.Set("setGemmImplementation", Napi::Function::New(env, SetGemmImplementation, "setGemmImplementation"));
  exports.Set("getConvImplementation", Napi::Function::New(env, GetConvImplementation, "getConvImplementation"));
  exports.Set("setConvImplementation", Napi::Function::New(env, SetConvImplementation, "setConvImplementation"));
  exports.Set("oneDnnInfo", Napi::Function::New(env, OneDnnInfo, "oneDnnInfo"));
  exports.Set("getCpuIsa", Napi::Function::New(env, GetCpuIsa, "getCpuIsa"));
  exports.Set("setCpuIsa", Napi::Function::New(env, SetCpuIsa, "setCpuIsa"));
  exports.Set("supportedCpuIsas", Napi::Function::New(env, SupportedCpuIsas, "supportedCpuIsas"));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStatsFn, "memoryStats"));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCacheFn, "emptyCache"));
  exports.Set("setDebugChecks", Napi::Function::New(env, SetDebugChecks, "setDebugChecks"));
  exports.Set("getDebugChecks", Napi::Function::New(env, GetDebugChecks, "getDebugChecks"));
  exports.Set("addonPath", Napi::Function::New(env, AddonPath, "addonPath"));
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
  exports.Set("trackedTensors", Napi::Function::New(env, TrackedTensors, "trackedTensors"));
  exports.Set("sweepTensors", Napi::Function::New(env, SweepTensors, "sweepTensors"));
}

}  // namespace napi
}  // namespace newton
