// Which compiled copy of the elementwise loops runs: baseline x86-64, x86-64-v3 (AVX2+FMA) or
// x86-64-v4 (AVX-512). Chosen once per process: the best the CPU supports, or the one that
// BETANMF_CPU_ISA (baseline | avx2 | avx512) asks for when the CPU has it (tests force each copy
// this way and compare it with the float64 reference).
#pragma once

namespace bnmf::cpu {

enum class LoopIsa { Baseline = 0, Avx2 = 1, Avx512 = 2 };

struct IsaChoice {
  LoopIsa cpuBest = LoopIsa::Baseline;  // the best copy this CPU (and OS) can run
  LoopIsa active = LoopIsa::Baseline;   // the copy in use
  const char* requested = nullptr;      // BETANMF_CPU_ISA as read, or nullptr when unset
  const char* note = nullptr;           // why `active` is not what was requested, or nullptr
};

// Decided on the first call (the addon calls it while loading) and fixed after.
const IsaChoice& loopIsa();

const char* isaName(LoopIsa isa);

}  // namespace bnmf::cpu
