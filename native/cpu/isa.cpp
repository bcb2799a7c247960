#include "cpu/isa.h"

#include <cstdlib>
#include <cstring>

namespace bnmf::cpu {
namespace {

LoopIsa detect() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)  // GCC: target("arch=…") and cpu levels
  __builtin_cpu_init();
  // The same feature sets the compiled copies target (-march=x86-64-v4 / -v3); libgcc checks
  // that the OS saves the AVX / AVX-512 registers too.
  if (__builtin_cpu_supports("x86-64-v4")) return LoopIsa::Avx512;
  if (__builtin_cpu_supports("x86-64-v3")) return LoopIsa::Avx2;
#endif
  return LoopIsa::Baseline;
}

IsaChoice choose() {
  IsaChoice c;
  c.cpuBest = c.active = detect();
  const char* env = std::getenv("BETANMF_CPU_ISA");
  if (env == nullptr || *env == '\0') return c;
  c.requested = env;
  LoopIsa want;
  if (std::strcmp(env, "baseline") == 0) want = LoopIsa::Baseline;
  else if (std::strcmp(env, "avx2") == 0) want = LoopIsa::Avx2;
  else if (std::strcmp(env, "avx512") == 0) want = LoopIsa::Avx512;
  else {
    c.note = "BETANMF_CPU_ISA: expected baseline, avx2 or avx512; using the CPU's best";
    return c;
  }
  if (static_cast<int>(want) > static_cast<int>(c.cpuBest)) {
    c.note = "BETANMF_CPU_ISA asks for loops this CPU cannot run; using the CPU's best";
    return c;
  }
  c.active = want;
  return c;
}

}  // namespace

const IsaChoice& loopIsa() {
  static const IsaChoice choice = choose();
  return choice;
}

const char* isaName(LoopIsa isa) {
  switch (isa) {
    case LoopIsa::Avx512: return "avx512";
    case LoopIsa::Avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace bnmf::cpu
