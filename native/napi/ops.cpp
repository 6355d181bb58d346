// Every op of NEWTON_OPS (core/ops.h), bound to JS by bind.h, and the functions that
// describe them: opSchemas() (for scripts/gen-native-ops.js and the tests) and
// supportedOps(device) (each backend's kernel table, note [kernel tables] in core/backend.h).
#include <napi.h>

#include "bind.h"
#include "convert.h"
#include "core/ops.h"
#include "core/registry.h"
#include "errors.h"
#include "exports.h"

namespace newton {
namespace napi {

namespace {

Napi::Value OpSchemas(const Napi::CallbackInfo& info) {
  return guard(info, "opSchemas", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
#define NEWTON_SCHEMA(Op) out.Set(i++, schema<ops::Op>(env));
    NEWTON_OPS(NEWTON_SCHEMA)
#undef NEWTON_SCHEMA
    return out;
  });
}

// supportedOps(device?): {op name: dtypes the device runs it in}.
Napi::Value SupportedOps(const Napi::CallbackInfo& info) {
  static constexpr const char* op = "supportedOps";
  return guard(info, op, [&]() -> Napi::Value {
    const Device device = device_arg(info[0], op, "device");
    require_device(device, op);
    const Backend& b = backend_for(device, op);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    auto list = [&](auto op_tag) {
      using OpT = decltype(op_tag);
      Napi::Array dtypes = Napi::Array::New(env);
      uint32_t k = 0;
      for (DType d : {DType::F32, DType::F64, DType::I32}) {
        if (supported<OpT>(b, d)) dtypes.Set(k++, dtype_name(d));
      }
      out.Set(OpT::info.name, dtypes);
    };
#define NEWTON_SUPPORTED(Op) list(ops::Op{});
    NEWTON_OPS(NEWTON_SUPPORTED)
#undef NEWTON_SUPPORTED
    return out;
  });
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
#define NEWTON_BIND(Op) bind_op<ops::Op>(env, exports);
  NEWTON_OPS(NEWTON_BIND)
#undef NEWTON_BIND
  exports.Set("opSchemas", Napi::Function::New(env, OpSchemas, "opSchemas"));
  exports.Set("supportedOps", Napi::Function::New(env, SupportedOps, "supportedOps"));
}

}  // namespace napi
}  // namespace newton
