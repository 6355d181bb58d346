// The profiler from JS (core/profile.h): start/stop, scopes, the report and the trace.
// lib/profile.ts is the public API over these.
#include <napi.h>

#include <string>

#include "convert.h"
#include "core/error.h"
#include "core/profile.h"
#include "errors.h"
#include "exports.h"

namespace newton {
namespace napi {

namespace {

using Info = Napi::CallbackInfo;

std::string string_arg(const Info& info, std::size_t i, const char* op, const char* name) {
  const Napi::Value v = info[i];
  if (!v.IsString()) fail<ArgumentTypeError>(op, ": ", name, " must be a string, got ", describe(v));
  return v.As<Napi::String>().Utf8Value();
}

Napi::Value ProfileStart(const Info& info) {
  return guard(info, "profileStart", [&]() -> Napi::Value {
    profile::start();
    return info.Env().Undefined();
  });
}

Napi::Value ProfileStop(const Info& info) {
  return guard(info, "profileStop", [&]() -> Napi::Value {
    profile::stop();
    return info.Env().Undefined();
  });
}

Napi::Value ProfileEnabled(const Info& info) {
  return guard(info, "profileEnabled", [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), profile::enabled()); });
}

Napi::Value ProfileScopePush(const Info& info) {
  static constexpr const char* op = "profileScopePush";
  return guard(info, op, [&]() -> Napi::Value {
    const std::string name = string_arg(info, 0, op, "name");
    if (name.empty()) fail<ValueError>(op, ": name must not be empty");
    profile::push_scope(name);
    return info.Env().Undefined();
  });
}

Napi::Value ProfileScopePop(const Info& info) {
  static constexpr const char* op = "profileScopePop";
  return guard(info, op, [&]() -> Napi::Value {
    profile::pop_scope(op);
    return info.Env().Undefined();
  });
}

// profileReport(withRates): { wallMs, opMs, table, ops: [...], scopes: [...], rates: [...] }.
Napi::Value ProfileReport(const Info& info) {
  static constexpr const char* op = "profileReport";
  return guard(info, op, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const Napi::Value v = info[0];
    if (!v.IsBoolean()) fail<ArgumentTypeError>(op, ": withRates must be a boolean, got ", describe(v));
    const profile::Report r = profile::report(v.As<Napi::Boolean>().Value());
    Napi::Object out = Napi::Object::New(env);
    out.Set("wallMs", r.wall_ms);
    out.Set("opMs", r.op_ms);
    out.Set("table", profile::format_table(r));
    Napi::Array ops = Napi::Array::New(env, r.ops.size());
    for (std::size_t i = 0; i < r.ops.size(); ++i) {
      const profile::OpSummary& o = r.ops[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", o.name);
      e.Set("caller", o.caller);
      e.Set("device", o.device);
      e.Set("calls", static_cast<double>(o.calls));
      e.Set("totalMs", o.total_ms);
      e.Set("meanMs", o.mean_ms);
      e.Set("percent", o.percent);
      e.Set("gflops", o.gflops >= 0 ? Napi::Value(Napi::Number::New(env, o.gflops)) : env.Null());
      e.Set("gbps", o.gbps);
      e.Set("gemmFraction", o.gemm_fraction >= 0 ? Napi::Value(Napi::Number::New(env, o.gemm_fraction)) : env.Null());
      e.Set("copyFraction", o.copy_fraction);
      ops.Set(static_cast<uint32_t>(i), e);
    }
    out.Set("ops", ops);
    Napi::Array scopes = Napi::Array::New(env, r.scopes.size());
    for (std::size_t i = 0; i < r.scopes.size(); ++i) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("path", r.scopes[i].path);
      e.Set("calls", static_cast<double>(r.scopes[i].calls));
      e.Set("totalMs", r.scopes[i].total_ms);
      e.Set("percent", r.scopes[i].percent);
      scopes.Set(static_cast<uint32_t>(i), e);
    }
    out.Set("scopes", scopes);
    Napi::Array rates = Napi::Array::New(env, r.rates.size());
    for (std::size_t i = 0; i < r.rates.size(); ++i) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("device", r.rates[i].first);
      e.Set("gemmGflops", r.rates[i].second.gemm_gflops);
      e.Set("copyGbps", r.rates[i].second.copy_gbps);
      rates.Set(static_cast<uint32_t>(i), e);
    }
    out.Set("rates", rates);
    return out;
  });
}

Napi::Value ProfileWriteTrace(const Info& info) {
  static constexpr const char* op = "profileWriteTrace";
  return guard(info, op, [&]() -> Napi::Value {
    const std::string path = string_arg(info, 0, op, "path");
    if (path.empty()) fail<ValueError>(op, ": path must not be empty");
    profile::write_trace(path, op);
    return info.Env().Undefined();
  });
}

}  // namespace

void register_profile(Napi::Env env, Napi::Object exports) {
  exports.Set("profileStart", Napi::Function::New(env, ProfileStart, "profileStart"));
  exports.Set("profileStop", Napi::Function::New(env, ProfileStop, "profileStop"));
  exports.Set("profileEnabled", Napi::Function::New(env, ProfileEnabled, "profileEnabled"));
  exports.Set("profileScopePush", Napi::Function::New(env, ProfileScopePush, "profileScopePush"));
  exports.Set("profileScopePop", Napi::Function::New(env, ProfileScopePop, "profileScopePop"));
  exports.Set("profileReport", Napi::Function::New(env, ProfileReport, "profileReport"));
  exports.Set("profileWriteTrace", Napi::Function::New(env, ProfileWriteTrace, "profileWriteTrace"));
}

}  // namespace napi
}  // namespace newton
