// Binds an op declaration (note [op declarations] in core/op.h) to a JS function, from the
// signature of its run() and the names in its `args`:
//
//   - each argument is converted by Arg<P>, P being run()'s parameter type: JS type checks
//     only (note [checks in one layer] in convert.h), left to right;
//   - the result is converted by Result<R>: a tensor, a number, undefined, or an object of
//     named fields (a struct with `names` and `fields()`);
//   - schema<OpT>() describes the same for opSchemas(), from which scripts/gen-native-ops.js
//     writes the TypeScript declarations of lib/native-ops.ts.
//
// A new argument or result type needs its Arg / Result here; a new op needs nothing.
#pragma once

#include <napi.h>

#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "convert.h"
#include "core/ops.h"
#include "errors.h"
#include "tensor_wrap.h"

namespace newton {
namespace napi {

// --- arguments ------------------------------------------------------------------------------
// Arg<P>: Held (what the converted value is kept as), parse (JS -> Held), pass (Held -> P),
// ts (its TypeScript type) and optional (whether JS may leave it out).

template <typename P>
struct Arg;

template <>
struct Arg<const Tensor&> {
  using Held = Tensor;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return tensor_arg(v, op, name); }
  static const Tensor& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeTensor";
  static constexpr bool optional = false;
};

// An output written in place (fill, copy, axpy, cgUpdate): the handle shares the memory.
template <>
struct Arg<Tensor&> {
  using Held = Tensor;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return tensor_arg(v, op, name); }
  static Tensor& pass(Held& h) { return h; }
  static constexpr const char* ts = "NativeTensor";
  static constexpr bool optional = false;
};

// An optional tensor: null or undefined -> none.
template <>
struct Arg<const Tensor*> {
  using Held = std::optional<Tensor>;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return optional_tensor_arg(v, op, name); }
  static const Tensor* pass(const Held& h) { return h ? &*h : nullptr; }
  static constexpr const char* ts = "NativeTensor | null";
  static constexpr bool optional = true;
};

template <>
struct Arg<const Shape&> {
  using Held = Shape;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return shape_arg(v, op, name); }
  static const Shape& pass(const Held& h) { return h; }
  static constexpr const char* ts = "readonly number[]";
  static constexpr bool optional = false;
};

template <>
struct Arg<double> {
  using Held = double;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return number_arg(v, op, name); }
  static double pass(Held h) { return h; }
  static constexpr const char* ts = "number";
  static constexpr bool optional = false;
};

template <>
struct Arg<DType> {
  using Held = DType;
  static Held parse(const Napi::Value& v, const char* op, const char* name) { return dtype_arg(v, op, name, name); }
  static DType pass(Held h) { return h; }
  static constexpr const char* ts = "DType";
  static constexpr bool optional = false;
};

// {stride?, padding?}: numbers or [h, w] pairs.
template <>
struct Arg<const Conv2dParams&> {
  using Held = Conv2dParams;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Napi::Object options = options_arg(v, op, false);
    Conv2dParams p;
    if (auto s = int_pair_option(options, "stride", op, "a positive integer")) std::tie(p.stride_h, p.stride_w) = *s;
    if (auto s = int_pair_option(options, "padding", op, "a non-negative integer")) std::tie(p.pad_h, p.pad_w) = *s;
    return p;
  }
  static const Conv2dParams& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeConv2dOptions";
  static constexpr bool optional = true;
};

// {kernel, stride? (default: the kernel), padding?}.
template <>
struct Arg<const Pool2dParams&> {
  using Held = Pool2dParams;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Napi::Object options = options_arg(v, op, true);
    Pool2dParams p;
    auto kernel = int_pair_option(options, "kernel", op, "a positive integer");
    if (!kernel) fail<ArgumentTypeError>(op, ": options.kernel must be a number or [number, number], got undefined");
    std::tie(p.kernel_h, p.kernel_w) = *kernel;
    const auto stride = int_pair_option(options, "stride", op, "a positive integer");
    std::tie(p.stride_h, p.stride_w) = stride ? *stride : *kernel;
    const auto pad = int_pair_option(options, "padding", op, "a non-negative integer");
    std::tie(p.pad_h, p.pad_w) = pad ? *pad : std::make_pair(int64_t{0}, int64_t{0});
    return p;
  }
  static const Pool2dParams& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativePool2dOptions";
  static constexpr bool optional = false;
};

// {transA?, transB?, alpha?, beta?, c?}.
template <>
struct Arg<const ops::GemmOptions&> {
  using Held = ops::GemmOptions;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Napi::Object options = options_arg(v, op, false);
    ops::GemmOptions g;
    g.trans_a = optional_bool_arg(options.Get("transA"), op, "options.transA", false);
    g.trans_b = optional_bool_arg(options.Get("transB"), op, "options.transB", false);
    g.alpha = optional_number_arg(options.Get("alpha"), op, "options.alpha", 1.0);
    g.c = optional_tensor_arg(options.Get("c"), op, "options.c");
    g.beta = maybe_number_arg(options.Get("beta"), op, "options.beta");
    return g;
  }
  static const ops::GemmOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeGemmOptions";
  static constexpr bool optional = true;
};

// {bias?}.
template <>
struct Arg<const ops::LinearBackwardOptions&> {
  using Held = ops::LinearBackwardOptions;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Napi::Object options = options_arg(v, op, false);
    ops::LinearBackwardOptions o;
    o.bias = optional_bool_arg(options.Get("bias"), op, "options.bias", true);
    return o;
  }
  static const ops::LinearBackwardOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "{ bias?: boolean }";
  static constexpr bool optional = true;
};

// {stride?, padding?, inputGradient?, bias?}: conv2d's options and which of dx and db
// conv2dBackward computes (both by default).
template <>
struct Arg<const ops::Conv2dBackwardOptions&> {
  using Held = ops::Conv2dBackwardOptions;
  static Held parse(const Napi::Value& v, const char* op, const char* name) {
    ops::Conv2dBackwardOptions o;
    o.conv = Arg<const Conv2dParams&>::parse(v, op, name);
    Napi::Object options = options_arg(v, op, false);
    o.input_gradient = optional_bool_arg(options.Get("inputGradient"), op, "options.inputGradient", true);
    o.bias = optional_bool_arg(options.Get("bias"), op, "options.bias", true);
    return o;
  }
  static const ops::Conv2dBackwardOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeConv2dOptions & { inputGradient?: boolean; bias?: boolean }";
  static constexpr bool optional = true;
};

// {relu}: φ of the Newton residual ops (ops/fused.h), required: the two choices compute
// different functions, so neither is a silent default.
template <>
struct Arg<const ops::ResidualOptions&> {
  using Held = ops::ResidualOptions;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Napi::Object options = options_arg(v, op, true);
    const Napi::Value relu = options.Get("relu");
    if (!relu.IsBoolean()) fail<ArgumentTypeError>(op, ": options.relu must be a boolean, got ", describe(relu));
    ops::ResidualOptions o;
    o.relu = relu.As<Napi::Boolean>().Value();
    return o;
  }
  static const ops::ResidualOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "{ relu: boolean }";
  static constexpr bool optional = false;
};

// {seed, offset?, dtype?, device?} plus the distribution's two parameters under `a` and `b`.
inline void random_options(const Napi::Value& v, const char* op, const char* a, double a0, const char* b, double b0,
                           ops::RandomOptions& o) {
  Napi::Object options = options_arg(v, op, true);
  o.seed = uint_arg(options.Get("seed"), op, "options.seed", "seed");
  o.offset = uint_arg(options.Get("offset"), op, "options.offset", "offset", uint64_t{0});
  o.dtype = dtype_arg(options.Get("dtype"), op, "options.dtype", "dtype", DType::F32);
  o.device = device_arg(options.Get("device"), op, "options.device");
  o.a = optional_number_arg(options.Get(a), op, (std::string("options.") + a).c_str(), a0);
  o.b = optional_number_arg(options.Get(b), op, (std::string("options.") + b).c_str(), b0);
}

template <>
struct Arg<const ops::UniformOptions&> {
  using Held = ops::UniformOptions;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Held o;
    random_options(v, op, "low", 0.0, "high", 1.0, o);
    return o;
  }
  static const ops::UniformOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeUniformOptions";
  static constexpr bool optional = false;
};

template <>
struct Arg<const ops::NormalOptions&> {
  using Held = ops::NormalOptions;
  static Held parse(const Napi::Value& v, const char* op, const char*) {
    Held o;
    random_options(v, op, "mean", 0.0, "std", 1.0, o);
    return o;
  }
  static const ops::NormalOptions& pass(const Held& h) { return h; }
  static constexpr const char* ts = "NativeNormalOptions";
  static constexpr bool optional = false;
};

// --- results --------------------------------------------------------------------------------

template <typename R, typename = void>
struct Result;

template <>
struct Result<Tensor> {
  static Napi::Value to_js(Napi::Env env, Tensor t) { return NativeTensor::Create(env, std::move(t)); }
  static std::string ts() { return "NativeTensor"; }
};

template <>
struct Result<std::optional<Tensor>> {
  static Napi::Value to_js(Napi::Env env, std::optional<Tensor> t) {
    return t ? NativeTensor::Create(env, std::move(*t)) : Napi::Value(env.Null());
  }
  static std::string ts() { return "NativeTensor | null"; }
};

template <>
struct Result<double> {
  static Napi::Value to_js(Napi::Env env, double d) { return Napi::Number::New(env, d); }
  static std::string ts() { return "number"; }
};

template <>
struct Result<void> {
  static std::string ts() { return "void"; }
};

// A struct of named results: `names` and `fields()` (a tuple of its members).
template <typename S>
struct Result<S, std::void_t<decltype(S::names), decltype(std::declval<const S&>().fields())>> {
  static Napi::Value to_js(Napi::Env env, S s) {
    Napi::Object o = Napi::Object::New(env);
    std::apply([&](const auto&... f) { set(env, o, 0, f...); }, s.fields());
    return o;
  }
  static std::string ts() {
    std::string out = "{ ";
    const S sample{};
    std::apply([&](const auto&... f) { describe_fields(out, 0, f...); }, sample.fields());
    return out + "}";
  }

 private:
  static void set(Napi::Env, Napi::Object&, std::size_t) {}
  template <typename F, typename... Rest>
  static void set(Napi::Env env, Napi::Object& o, std::size_t i, const F& f, const Rest&... rest) {
    o.Set(S::names[i], Result<std::decay_t<F>>::to_js(env, f));
    set(env, o, i + 1, rest...);
  }
  static void describe_fields(std::string&, std::size_t) {}
  template <typename F, typename... Rest>
  static void describe_fields(std::string& out, std::size_t i, const F&, const Rest&... rest) {
    out += std::string(S::names[i]) + ": " + Result<std::decay_t<F>>::ts() + "; ";
    describe_fields(out, i + 1, rest...);
  }
};

// --- binding ------------------------------------------------------------------------------------

namespace detail {

template <typename OpT, typename R, typename... P, std::size_t... I>
Napi::Value invoke(const Napi::CallbackInfo& info, R (*fn)(P...), std::index_sequence<I...>) {
  static_assert(sizeof...(P) == OpT::args.size(), "an op's `args` must name every argument of its run()");
  // A braced list evaluates left to right: the first bad argument is the one reported.
  std::tuple<typename Arg<P>::Held...> held{Arg<P>::parse(info[I], OpT::info.name, OpT::args[I])...};
  if constexpr (std::is_void_v<R>) {
    fn(Arg<P>::pass(std::get<I>(held))...);
    return info.Env().Undefined();
  } else {
    return Result<R>::to_js(info.Env(), fn(Arg<P>::pass(std::get<I>(held))...));
  }
}

template <typename OpT, typename R, typename... P>
Napi::Value call(const Napi::CallbackInfo& info, R (*fn)(P...)) {
  return guard(info, OpT::info.name, [&] { return invoke<OpT>(info, fn, std::index_sequence_for<P...>{}); });
}

template <typename R, typename... P>
void describe_signature(Napi::Env env, Napi::Object& schema, const std::array<const char*, sizeof...(P)>& names,
                        R (*)(P...)) {
  const char* types[] = {Arg<P>::ts..., ""};
  const bool optional[] = {Arg<P>::optional..., false};
  Napi::Array args = Napi::Array::New(env, sizeof...(P));
  for (std::size_t i = 0; i < sizeof...(P); ++i) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("name", names[i]);
    a.Set("type", types[i]);
    a.Set("optional", optional[i]);
    args.Set(static_cast<uint32_t>(i), a);
  }
  schema.Set("args", args);
  schema.Set("returns", Result<R>::ts());
}

inline const char* pass_name(Pass p) {
  switch (p) {
    case Pass::Forward: return "forward";
    case Pass::Vjp: return "vjp";
    case Pass::Jvp: return "jvp";
    case Pass::Fused: return "fused";
    case Pass::Utility: return "utility";
  }
  return "utility";
}

template <typename T, typename = void>
struct is_composite : std::false_type {};
template <typename T>
struct is_composite<T, std::void_t<typename T::Uses>> : std::true_type {};

}  // namespace detail

// exports[OpT::info.name] = the op.
template <typename OpT>
void bind_op(Napi::Env env, Napi::Object exports) {
  exports.Set(OpT::info.name, Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return detail::call<OpT>(info, &OpT::run);
              }, OpT::info.name));
}

// {name, pass, of, wrt, doc, composite, args: [{name, type, optional}], returns}.
template <typename OpT>
Napi::Object schema(Napi::Env env) {
  Napi::Object s = Napi::Object::New(env);
  s.Set("name", OpT::info.name);
  s.Set("pass", detail::pass_name(OpT::info.pass));
  s.Set("of", OpT::info.of);
  s.Set("wrt", OpT::info.wrt);
  s.Set("doc", OpT::info.doc);
  s.Set("composite", detail::is_composite<OpT>::value);
  detail::describe_signature(env, s, OpT::args, &OpT::run);
  return s;
}

}  // namespace napi
}  // namespace newton
