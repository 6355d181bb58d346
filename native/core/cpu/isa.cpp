// Detection and choice of the CPU kernels' ISA (note [run-time ISA] in isa.h).
#include "isa.h"

#include <atomic>
#include <cstdlib>

#include "../error.h"

namespace newton {
namespace {

bool processor_has(CpuIsa isa) {
#if NEWTON_CPU_ISA_DISPATCH
  switch (isa) {
    case CpuIsa::Baseline: return true;
    case CpuIsa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuIsa::Avx512:
      return processor_has(CpuIsa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == CpuIsa::Baseline;
#endif
}

// NEWTON_CPU_ISA when it names a supported ISA, else the best supported one. (lib/native.ts
// refuses a misspelt value before the addon is loaded and an unsupported one right after,
// naming the variable; a C++ program linking the core gets the default.)
CpuIsa default_isa() {
  if (const char* env = std::getenv("NEWTON_CPU_ISA")) {
    const std::string name(env);
    for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
      if (name == cpu_isa_name(isa) && processor_has(isa)) return isa;
    }
  }
  return supported_cpu_isas().back();
}

std::atomic<int>& active() {
  static std::atomic<int> isa{static_cast<int>(default_isa())};
  return isa;
}

std::string supported_list() {
  std::string s;
  for (CpuIsa isa : supported_cpu_isas()) s += (s.empty() ? "" : ", ") + std::string(cpu_isa_name(isa));
  return s;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Baseline: return "baseline";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Avx512: return "avx512";
  }
  return "unknown";
}

std::vector<CpuIsa> supported_cpu_isas() {
  std::vector<CpuIsa> list;
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (processor_has(isa)) list.push_back(isa);
  }
  return list;
}

CpuIsa cpu_isa() { return static_cast<CpuIsa>(active().load(std::memory_order_relaxed)); }

void set_cpu_isa(CpuIsa isa) {
  if (!processor_has(isa)) {
    fail<ValueError>("setCpuIsa: this processor does not run '", cpu_isa_name(isa), "' (it runs: ", supported_list(), ")");
  }
  active().store(static_cast<int>(isa), std::memory_order_relaxed);
}

CpuIsa parse_cpu_isa(const std::string& name, const char* what) {
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (name == cpu_isa_name(isa)) return isa;
  }
  fail<ValueError>(what, " must be 'baseline', 'avx2' or 'avx512', got '", name, "'");
}

}  // namespace newton
