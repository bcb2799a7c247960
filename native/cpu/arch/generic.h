// The loops as plain C++, compiled into each copy of the loops (cpu/arch/*.cpp) in that copy's
// namespace (BNMF_ARCH) and with its target flags, where the compiler vectorises them for that
// ISA; a copy's hand-written loops fall back to them for what they do not cover. Everything a
// copy defines lives in its own namespace, so the linker never takes one copy's out-of-line
// function (compiled for its ISA) for another's.
//
// What keeps them vectorisable: every entry computes all of core/beta.h's branches and selects
// (the files are built with -fno-trapping-math, so the compiler may evaluate a division or a
// square root whose result a select drops; NaN and ∞ keep their meaning); powers with a
// run-time exponent (integer β, general β in double, the step's γ) and the logs of the
// divergence are computed on chunks of a row with branchless code (cpu/arch/logexp.h), and the
// few lanes outside its range are redone by core/beta.h's scalar formulas; the divergence sums
// each row in 8 fixed lanes, so its order depends neither on the ISA nor on the thread count.
#pragma once
#ifndef BNMF_ARCH
#error "define BNMF_ARCH (the copy's namespace) before including cpu/arch/generic.h"
#endif
#include <algorithm>
#include <limits>
#include <type_traits>

#include "core/beta.h"
#include "core/matrix.h"
#include "cpu/arch/logexp.h"
#include "cpu/loops.h"

// Each entry point of a copy stays a function of its own, per instantiation (not inlined into the
// table's dispatch): test/vectorisation.test.ts disassembles them by name.
#define BNMF_LOOP __attribute__((noinline))
// The loops below are inlined into those entry points (so each entry holds its own loops).
#define BNMF_INLINE __attribute__((always_inline)) inline

namespace bnmf::cpu::BNMF_ARCH {

enum class Mode { Both, Neg, Diff };  // see Loops::parts: both parts, the neg part alone, neg − pos

// Entries per chunk of a row for the chunked loops (stack arrays; a multiple of 8).
constexpr Index kChunk = 64;

template <typename Pow> constexpr bool kPowered = std::is_same_v<Pow, PowBetaInteger> || std::is_same_v<Pow, PowBetaGeneral>;

// A β functor whose power is already known for the entry at hand: t = v^(β−2) where β ≥ 2
// (Below false), v^(β−1) where β < 2 (the one core/beta.h's part formulas then use).
template <typename T, bool Below>
struct GivenPower {
  T t;
  T operator()(T) const { return t; }
  T pm1(T) const { return t; }
  T pm1i(T, T) const { return t; }
  bool belowTwo() const { return Below; }
};

// Asks for row i + kAhead of M (when there is one) to be brought into cache. The W pass reads X
// in column slices (a short piece of every row, rows 2 KB apart for F = 513), which the hardware
// prefetchers do not follow: without this, the pass waits on memory for each row (measured on Zen 3:
// the W pass's elementwise work took 4× the H pass's over the same entries).
constexpr Index kAhead = 8;
template <typename T>
BNMF_INLINE void prefetchRow(CMat<T> M, Index i) {
  if (i + kAhead >= M.rows) return;
  const char* p = reinterpret_cast<const char*>(M.row(i + kAhead));
  const Index bytes = M.cols * static_cast<Index>(sizeof(T));
  for (Index off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
  __builtin_prefetch(p + bytes - 1);
}

// One entry's parts by core/beta.h (a is V's entry on the way in).
template <Mode M, typename T, typename Pow>
BNMF_INLINE void partsAt(Pow pw, T x, T v, T& a, T* b) {
  if constexpr (M == Mode::Diff) a = gradientPart(pw, x, v);
  else if constexpr (M == Mode::Both) muParts(pw, x, v, a, *b);
  else a = negPart(pw, x, v);
}

// r = v^n by repeated squaring over `count` entries: core/beta.h's ipow, lane by lane.
template <typename T>
BNMF_INLINE void ipowChunk(const T* __restrict v, int n, T* __restrict r, Index count) {
  T b[kChunk];
  for (Index k = 0; k < count; ++k) r[k] = T(1), b[k] = v[k];
  for (unsigned m = n < 0 ? static_cast<unsigned>(-n) : static_cast<unsigned>(n); m; m >>= 1u) {
    if (m & 1u)
      for (Index k = 0; k < count; ++k) r[k] *= b[k];
    for (Index k = 0; k < count; ++k) b[k] *= b[k];
  }
  if (n < 0)
    for (Index k = 0; k < count; ++k) r[k] = T(1) / r[k];
}

// r = v^e over `count` entries, through logexp.h; lanes it cannot take (v not positive normal,
// a result out of range) are redone with exact(v). Returns nothing: r is complete.
template <typename T, typename Exact>
BNMF_INLINE void powChunk(const T* __restrict v, double e, T* __restrict r, Index count, Exact exact) {
  int bad = 0;
  for (Index k = 0; k < count; ++k) {
    bool ok;
    r[k] = static_cast<T>(powFast(double(v[k]), e, ok));
    bad |= !ok;
  }
  if (bad)
    for (Index k = 0; k < count; ++k) {
      bool ok;
      powFast(double(v[k]), e, ok);
      if (!ok) r[k] = exact(v[k]);
    }
}

// The parts over a block with the plain loops (powers the compiler vectorises itself).
template <Mode M, typename T, typename Pow>
BNMF_INLINE void partsPlain(Pow pw, T lo, CMat<T> X, Mat<T> A, Mat<T> B) {
  for (Index i = 0; i < A.rows; ++i) {
    prefetchRow(X, i);
    const T* __restrict x = X.row(i);
    T* __restrict a = A.row(i);
    if constexpr (M == Mode::Both) {
      T* __restrict b = B.row(i);
      for (Index j = 0; j < A.cols; ++j) muParts(pw, x[j], clipV(a[j], lo), a[j], b[j]);
    } else if constexpr (M == Mode::Neg) {
      for (Index j = 0; j < A.cols; ++j) a[j] = negPart(pw, x[j], clipV(a[j], lo));
    } else {
      for (Index j = 0; j < A.cols; ++j) a[j] = gradientPart(pw, x[j], clipV(a[j], lo));
    }
  }
}

// The power each entry's parts use (see GivenPower), over a chunk.
template <typename T, typename Pow>
BNMF_INLINE void partPowers(Pow pw, bool below, const T* v, T* t, Index count) {
  if constexpr (std::is_same_v<Pow, PowBetaInteger>) {
    ipowChunk(v, below ? pw.e + 1 : pw.e, t, count);
  } else {
    // The exponent as core/beta.h passes it to pow (rounded to T).
    const double e = static_cast<T>(below ? pw.e + 1.0 : pw.e);
    powChunk(v, e, t, count, [&](T u) { return below ? pw.pm1(u) : pw(u); });
  }
}

// The parts over a block for integer and general β: V clipped and its powers on a chunk, then
// core/beta.h's formulas with those powers.
template <Mode M, bool Below, typename T, typename Pow>
BNMF_INLINE void partsPoweredRows(Pow pw, T lo, CMat<T> X, Mat<T> A, Mat<T> B) {
  T v[kChunk], t[kChunk];
  for (Index i = 0; i < A.rows; ++i) {
    prefetchRow(X, i);
    const T* __restrict x = X.row(i);
    T* __restrict a = A.row(i);
    T* __restrict b = M == Mode::Both ? B.row(i) : nullptr;
    for (Index j0 = 0; j0 < A.cols; j0 += kChunk) {
      const Index n = std::min(kChunk, A.cols - j0);
      for (Index k = 0; k < n; ++k) v[k] = clipV(a[j0 + k], lo);
      partPowers(pw, Below, v, t, n);
      for (Index k = 0; k < n; ++k) partsAt<M>(GivenPower<T, Below>{t[k]}, x[j0 + k], v[k], a[j0 + k], b ? b + j0 + k : nullptr);
    }
  }
}

template <Mode M, typename T, typename Pow>
BNMF_INLINE void partsDefault(Pow pw, T lo, CMat<T> X, Mat<T> A, Mat<T> B) {
  if constexpr (kPowered<Pow>) {
    if (pw.belowTwo()) partsPoweredRows<M, true, T>(pw, lo, X, A, B);
    else partsPoweredRows<M, false, T>(pw, lo, X, A, B);
  } else {
    partsPlain<M, T>(pw, lo, X, A, B);
  }
}

// a ← weighed(m, a) (and b) over one row.
template <typename T>
BNMF_INLINE void weighRow(const T* __restrict m, T* __restrict a, T* __restrict b, Index cols) {
  for (Index j = 0; j < cols; ++j) a[j] = weighed(m[j], a[j]);
  if (b)
    for (Index j = 0; j < cols; ++j) b[j] = weighed(m[j], b[j]);
}

// o = f ⊙ step(n / (p + eps)) over `count` entries (o may be f: each entry reads before it writes).
template <typename T, typename Step>
BNMF_INLINE void stepDefault(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  if constexpr (!std::is_same_v<Step, StepPow>) {
    for (Index i = 0; i < count; ++i) o[i] = muStep(step, f[i], p[i], n[i], eps);
  } else {
    T q[kChunk], r[kChunk];
    for (Index i0 = 0; i0 < count; i0 += kChunk) {
      const Index c = std::min(kChunk, count - i0);
      for (Index k = 0; k < c; ++k) q[k] = n[i0 + k] / (p[i0 + k] + eps);
      powChunk(q, double(static_cast<T>(step.gamma)), r, c, [&](T u) { return step(u); });
      for (Index k = 0; k < c; ++k) o[i0 + k] = f[i0 + k] * r[k];  // muStep: f · step(n / (p + eps))
    }
  }
}

// ---- The divergence ---------------------------------------------------------------------------

// log of a positive normal ratio (lanes where it is not are redone with core/beta.h's log).
struct LogFast {
  double operator()(double q) const { return logFast(positiveNormal(q) ? q : 1.0); }
};

// The terms d(x | v) of one chunk into t (double), exact to rounding: core/beta.h's formulas,
// with logexp.h's log and pow where lanes allow and the scalar formulas where not.
template <typename T, typename Pow>
BNMF_INLINE void divergenceChunk(Pow pw, double beta, T lo, const T* __restrict x, const T* __restrict vRaw, double* __restrict t, Index count) {
  if constexpr (std::is_same_v<Pow, PowBetaOne> || std::is_same_v<Pow, PowBetaZero>) {
    constexpr double b = std::is_same_v<Pow, PowBetaOne> ? 1.0 : 0.0;
    // Valid lanes: the ratio is positive normal (β=1: or x = 0, whose term has no log).
    auto ok = [](double xd, double vd) { return positiveNormal(xd / vd) || (b == 1.0 && xd == 0.0); };
    int bad = 0;
    for (Index k = 0; k < count; ++k) {
      const double xd = double(x[k]), vd = double(clipV(vRaw[k], lo));
      t[k] = divergenceTerm(pw, b, xd, vd, LogFast());
      bad |= !ok(xd, vd);
    }
    if (bad)
      for (Index k = 0; k < count; ++k) {
        const double xd = double(x[k]), vd = double(clipV(vRaw[k], lo));
        if (!ok(xd, vd)) t[k] = divergenceTerm(pw, b, xd, vd);
      }
  } else if constexpr (std::is_same_v<Pow, PowBetaTwo>) {
    for (Index k = 0; k < count; ++k) t[k] = divergenceTerm(pw, 2.0, double(x[k]), double(clipV(vRaw[k], lo)));
  } else if constexpr (kPowered<Pow>) {
    // x^(β−1) and v^(β−1) on the chunk (used only where x > 0 and v ≠ 0), then the formula.
    double xd[kChunk], vd[kChunk], xm1[kChunk], vm1[kChunk];
    for (Index k = 0; k < count; ++k) xd[k] = double(x[k]), vd[k] = double(clipV(vRaw[k], lo));
    if constexpr (std::is_same_v<Pow, PowBetaInteger>) {
      ipowChunk(xd, pw.e + 1, xm1, count);
      ipowChunk(vd, pw.e + 1, vm1, count);
    } else {
      auto exact = [&](double u) { return u == 0.0 ? 0.0 : pw.pm1(u); };  // 0: unused, see above
      powChunk(xd, pw.e + 1.0, xm1, count, exact);
      powChunk(vd, pw.e + 1.0, vm1, count, exact);
    }
    for (Index k = 0; k < count; ++k) t[k] = divergenceFromPowers(beta, xd[k], vd[k], xm1[k], vm1[k]);
  } else {
    // β = ½, 3/2, 3: square roots and products the compiler vectorises (divergenceTerm's
    // general branch, without its tests for β = 0, 1, 2, which would keep a scalar log).
    for (Index k = 0; k < count; ++k) {
      const double xd = double(x[k]), vd = double(clipV(vRaw[k], lo));
      t[k] = divergenceFromPowers(beta, xd, vd, pw.pm1(xd), pw.pm1(vd));
    }
  }
}

// Σ over a block of m·d(x | v) (m = 1 unweighted; an entry of weight 0 counts 0, whatever its
// term), rows in order, each row summed in 8 lanes (entry j in lane j mod 8) then lanes paired.
template <typename T, typename Pow, bool Weighted>
BNMF_INLINE double divergenceDefault(Pow pw, double beta, T lo, CMat<T> X, CMat<T> V, CMat<T> M) {
  double total = 0.0;
  double t[kChunk];
  for (Index i = 0; i < V.rows; ++i) {
    const T* x = X.row(i);
    const T* v = V.row(i);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (Index j0 = 0; j0 < V.cols; j0 += kChunk) {
      const Index n = std::min(kChunk, V.cols - j0), padded = (n + 7) / 8 * 8;
      divergenceChunk<T>(pw, beta, lo, x + j0, v + j0, t, n);
      if constexpr (Weighted) {
        const T* m = M.row(i) + j0;
        for (Index k = 0; k < n; ++k) t[k] = m[k] == T(0) ? 0.0 : double(m[k]) * t[k];
      }
      for (Index k = n; k < padded; ++k) t[k] = 0.0;
      for (Index k = 0; k < padded; k += 8)
        for (Index l = 0; l < 8; ++l) acc[l] += t[k + l];
    }
    total += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  return total;
}

}  // namespace bnmf::cpu::BNMF_ARCH
