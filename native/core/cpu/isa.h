// The instruction set the CPU kernels' loops are compiled for, chosen at run time.
//
// Note [run-time ISA]
// ~~~~~~~~~~~~~~~~~~~
// The build passes no -march, so one binary runs on every x86-64 processor. A hot loop is
// written once and wrapped in with_cpu_isa(...): the wrapper calls it through one of three
// instantiations of a function template, compiled for the baseline (SSE2), for AVX2 + FMA or
// for AVX-512 (F, BW, VL, DQ) by GCC/Clang's target attribute, with `flatten` so that the loop
// and everything it calls is inlined into, and vectorised for, that instantiation. Code for an
// extended ISA therefore exists only inside these instantiations (a function the flattening
// could not inline stays a call to its baseline copy), and runs only when cpu_isa() chose it;
// the same holds for the few kernels written with intrinsics, named *_avx2 / *_avx512
// (pool.cpp). test/cpu-isa.test.ts checks the built addon for AVX instructions elsewhere.
// Wrapped: element-wise ops and casts (for_each_index), reductions (blocked_sum), the
// per-channel ops, the squared loss gradient and the fused passes; pooling dispatches its 2×2
// rows only (see pool.cpp). Copies are memcpy, which glibc already picks per processor.
//
// The ISAs give the same bits: the core is compiled with -ffp-contract=off (FMA is never
// formed, note [fused rounding order] in fused_math.h), the compiler vectorises without
// reassociating, and every reduction spells out its order of additions (lanes of
// blocked_sum.h, accumulators of bias_grad and fused.cpp). test/cpu-isa.test.ts checks it.
#pragma once

#include <string>
#include <vector>

namespace newton {

enum class CpuIsa : int { Baseline = 0, Avx2 = 1, Avx512 = 2 };

const char* cpu_isa_name(CpuIsa isa);  // "baseline", "avx2", "avx512"
// The ISAs this processor runs, baseline first.
std::vector<CpuIsa> supported_cpu_isas();
// The ISA the kernels use: the best supported, or NEWTON_CPU_ISA (see isa.cpp).
CpuIsa cpu_isa();
// Throws ValueError naming the ISA and what the processor has when it is not supported.
void set_cpu_isa(CpuIsa isa);
// Parses "baseline" | "avx2" | "avx512"; throws ValueError naming `what` otherwise.
CpuIsa parse_cpu_isa(const std::string& name, const char* what);

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define NEWTON_CPU_ISA_DISPATCH 1
#else
#define NEWTON_CPU_ISA_DISPATCH 0
#endif

#if NEWTON_CPU_ISA_DISPATCH
// What each extended ISA lets the compiler use; also for the few kernels written with
// intrinsics (pool.cpp), whose names end in _avx2 / _avx512. (A lambda does not inherit its
// enclosing function's target: intrinsics need named functions.)
#define NEWTON_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define NEWTON_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))

namespace isa_detail {
template <typename F>
NEWTON_TARGET_AVX2 __attribute__((flatten)) void run_avx2(F& f) {
  f();
}
template <typename F>
NEWTON_TARGET_AVX512 __attribute__((flatten)) void run_avx512(F& f) {
  f();
}
}  // namespace isa_detail
#endif

// Runs f() compiled for cpu_isa() (note [run-time ISA]). Call it inside a parallel_for
// chunk, around the loop: parallel_for's std::function cannot be inlined through.
template <typename F>
void with_cpu_isa(F&& f) {
#if NEWTON_CPU_ISA_DISPATCH
  switch (cpu_isa()) {
    case CpuIsa::Avx512: isa_detail::run_avx512(f); return;
    case CpuIsa::Avx2: isa_detail::run_avx2(f); return;
    case CpuIsa::Baseline: break;
  }
#endif
  f();
}

}  // namespace newton
