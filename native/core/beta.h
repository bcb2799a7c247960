// The β formulas, written once. CPU loops and CUDA kernels call these same inline functions.
//
// With V = H·Wᵀ and t = V^(β−2) (elementwise):
//   neg part:  R = t ⊙ X            (X/V at β=1, X at β=2)
//   pos part:  P = t ⊙ V = V^(β−1)  (1 at β=1, V at β=2)
//   neg − pos: D = t ⊙ (X − V)
// so one power per entry gives all three (never V^(β−1) and V^(β−2) separately).
//
// β-divergence term d(x | v):
//   β=2: ½(x−v)²;  β=1: x·log(x/v) − x + v;  β=0 (Itakura-Saito): x/v − log(x/v) − 1;
//   otherwise (x^β + (β−1)·v^β − β·x·v^(β−1)) / (β(β−1)).
#pragma once
#include <cmath>
#include <limits>

#include "core/hd.h"

namespace bnmf {

enum class BetaKind { Two, One, Zero, Half, ThreeHalves, Three, Integer, General };

struct Beta {
  double value = 2.0;
  BetaKind kind = BetaKind::Two;
  int intExponent = 0;  // β − 2 when kind == Integer

  static Beta of(double b) {
    Beta r;
    r.value = b;
    if (b == 2.0) r.kind = BetaKind::Two;
    else if (b == 1.0) r.kind = BetaKind::One;
    else if (b == 0.0) r.kind = BetaKind::Zero;
    else if (b == 0.5) r.kind = BetaKind::Half;
    else if (b == 1.5) r.kind = BetaKind::ThreeHalves;
    else if (b == 3.0) r.kind = BetaKind::Three;
    else if (b == std::floor(b) && std::fabs(b) <= 64.0) {
      r.kind = BetaKind::Integer;
      r.intExponent = static_cast<int>(b) - 2;
    } else {
      r.kind = BetaKind::General;
    }
    return r;
  }
};

BNMF_HD float sqrtT(float v) { return sqrtf(v); }
BNMF_HD double sqrtT(double v) { return sqrt(v); }
BNMF_HD float powT(float v, float e) { return powf(v, e); }
BNMF_HD double powT(double v, double e) { return pow(v, e); }

// v^n for an integer n by repeated squaring (n may be negative).
template <typename T>
BNMF_HD T ipow(T v, int n) {
  unsigned m = n < 0 ? static_cast<unsigned>(-n) : static_cast<unsigned>(n);
  T r = T(1), b = v;
  while (m) {
    if (m & 1u) r *= b;
    b *= b;
    m >>= 1u;
  }
  return n < 0 ? T(1) / r : r;
}

// t = v^(β−2), one functor per special case so a loop is compiled once per case with no
// branch inside it. pm1(v) = v^(β−1) computed directly (not as t·v, whose t may leave the
// floating-point range where v^(β−1) does not); pm1i(v, 1/v) the same reusing 1/v where that
// saves a division; belowTwo(): whether β < 2 (t grows as v → 0).
struct PowBetaTwo {
  template <typename T> BNMF_HD T operator()(T) const { return T(1); }
  template <typename T> BNMF_HD T pm1(T v) const { return v; }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return false; }
};
struct PowBetaOne {
  template <typename T> BNMF_HD T operator()(T v) const { return T(1) / v; }
  template <typename T> BNMF_HD T pm1(T) const { return T(1); }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return true; }
};
struct PowBetaZero {
  template <typename T> BNMF_HD T operator()(T v) const { return T(1) / (v * v); }
  template <typename T> BNMF_HD T pm1(T v) const { return T(1) / v; }
  template <typename T> BNMF_HD T pm1i(T, T inv) const { return inv; }
  BNMF_HD bool belowTwo() const { return true; }
};
struct PowBetaHalf {
  template <typename T> BNMF_HD T operator()(T v) const { return T(1) / (v * sqrtT(v)); }
  template <typename T> BNMF_HD T pm1(T v) const { return T(1) / sqrtT(v); }
  template <typename T> BNMF_HD T pm1i(T, T inv) const { return sqrtT(inv); }
  BNMF_HD bool belowTwo() const { return true; }
};
struct PowBetaThreeHalves {
  template <typename T> BNMF_HD T operator()(T v) const { return T(1) / sqrtT(v); }
  template <typename T> BNMF_HD T pm1(T v) const { return sqrtT(v); }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return true; }
};
struct PowBetaThree {
  template <typename T> BNMF_HD T operator()(T v) const { return v; }
  template <typename T> BNMF_HD T pm1(T v) const { return v * v; }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return false; }
};
struct PowBetaInteger {
  int e;
  template <typename T> BNMF_HD T operator()(T v) const { return ipow(v, e); }
  template <typename T> BNMF_HD T pm1(T v) const { return ipow(v, e + 1); }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return e < 0; }
};
struct PowBetaGeneral {
  double e;
  template <typename T> BNMF_HD T operator()(T v) const { return powT(v, static_cast<T>(e)); }
  template <typename T> BNMF_HD T pm1(T v) const { return powT(v, static_cast<T>(e + 1.0)); }
  template <typename T> BNMF_HD T pm1i(T v, T) const { return pm1(v); }
  BNMF_HD bool belowTwo() const { return e < 0.0; }
};

// Calls f(pow) with the functor for t = v^(β−2) that fits β.
template <typename F>
decltype(auto) withBetaPower(const Beta& b, F&& f) {
  switch (b.kind) {
    case BetaKind::Two: return f(PowBetaTwo{});
    case BetaKind::One: return f(PowBetaOne{});
    case BetaKind::Zero: return f(PowBetaZero{});
    case BetaKind::Half: return f(PowBetaHalf{});
    case BetaKind::ThreeHalves: return f(PowBetaThreeHalves{});
    case BetaKind::Three: return f(PowBetaThree{});
    case BetaKind::Integer: return f(PowBetaInteger{b.intExponent});
    default: return f(PowBetaGeneral{b.value - 2.0});
  }
}

// V clipped from below (the solver's guard where β < 2; 0 leaves V as it is).
template <typename T>
BNMF_HD T clipV(T v, T floor) {
  return v < floor ? floor : v;
}

// ---- The parts at the edges of the range ---------------------------------------------------
// For β < 2, t = v^(β−2) overflows for small v and underflows for large v where the parts
// themselves are representable, so there the parts are formed from p = v^(β−1) and the ratio
// x/v (r = p·(x/v), neg − pos = p·((x−v)/v)); for β ≥ 2, t only shrinks faster than the parts
// and t·x, t·v are used. At v = 0 the parts take their limits as v → 0⁺:
//   p = v^(β−1):  0 (β > 1), 1 (β = 1), +∞ (β < 1);
//   r = x·v^(β−2): 0 where x = 0 (it is 0 for every v > 0), x·∞ otherwise (β < 2);
//   neg − pos:     −p where x = 0, x·∞ otherwise (β < 2).
// The infinite ones are genuine: V = 0 where X > 0 has no finite gradient for β < 2.

template <typename T>
BNMF_HD T infinityT() { return static_cast<T>(HUGE_VAL); }

// The MU parts of one entry: r = v^(β−2)·x (neg), p = v^(β−1) (pos).
template <typename T, typename Pow>
BNMF_HD void muParts(Pow pw, T x, T v, T& r, T& p) {
  if (!pw.belowTwo()) {
    const T t = pw(v);
    r = t * x;
    p = t * v;
    return;
  }
  // Both branches are computed and one is selected (no branch: the loop vectorises).
  const T inv = T(1) / v;  // the one division (pm1i reuses it)
  p = pw.pm1i(v, inv);
  const T ratio = p * (x * inv), atZero = x == T(0) ? T(0) : x * infinityT<T>();
  r = v == T(0) ? atZero : ratio;
}

// The neg part alone: v^(β−2)·x (β = 1's parts, whose pos part is a column sum).
template <typename T, typename Pow>
BNMF_HD T negPart(Pow pw, T x, T v) {
  if (!pw.belowTwo()) return pw(v) * x;
  const T inv = T(1) / v;
  const T ratio = pw.pm1i(v, inv) * (x * inv), atZero = x == T(0) ? T(0) : x * infinityT<T>();
  return v == T(0) ? atZero : ratio;
}

// The neg − pos entry: v^(β−2)·(x − v).
template <typename T, typename Pow>
BNMF_HD T gradientPart(Pow pw, T x, T v) {
  if (!pw.belowTwo()) return pw(v) * (x - v);
  const T inv = T(1) / v;
  const T p = pw.pm1i(v, inv);
  const T ratio = p * (x * inv - T(1)), atZero = x == T(0) ? -p : x * infinityT<T>();
  return v == T(0) ? atZero : ratio;
}

// One term of D(X | V), in double, for β ∉ {0, 1, 2}, from xm1 = x^(β−1) and vm1 = v^(β−1)
// (used only where x > 0 and v ≠ 0, so a caller may pass anything elsewhere). Where v = 0 it is
// the limit as v → 0⁺: for x = 0, 0 when β > 0 and +∞ when β ≤ 0 (x = 0 alone already gives +∞
// there); for x > 0, x^β/(β(β−1)) when β > 1 and +∞ when β ≤ 1.
BNMF_HD double divergenceFromPowers(double beta, double x, double v, double xm1, double vm1) {
  const double xb = x == 0.0 ? (beta > 0.0 ? 0.0 : HUGE_VAL) : xm1 * x;  // x^β (0^β: 0 or +∞)
  if (v == 0.0) {
    if (beta > 1.0) return xb / (beta * (beta - 1.0));
    return x == 0.0 && beta > 0.0 ? 0.0 : HUGE_VAL;
  }
  const double vb = vm1 * v;
  return (xb + (beta - 1.0) * vb - beta * x * vm1) / (beta * (beta - 1.0));
}

// log of a positive ratio (the CPU's vector loops pass their own, valid where they use it).
struct LogStd { BNMF_HD double operator()(double q) const { return log(q); } };

// One term of D(X | V), in double (see divergenceFromPowers for v = 0). With β = 0, a ratio
// x/v beyond the range gives +∞.
template <typename Pow, typename Log = LogStd>
BNMF_HD double divergenceTerm(Pow pw, double beta, double x, double v, Log lg = Log()) {
  if (beta == 2.0) {
    const double d = x - v;
    return 0.5 * d * d;
  }
  if (beta == 1.0) {
    // 0·log(0/v) is 0 (its limit), so a zero in X contributes v.
    return x == 0.0 ? v : x * lg(x / v) - x + v;
  }
  if (beta == 0.0) {
    const double q = x / v;
    if (!(q < HUGE_VAL)) return HUGE_VAL;  // v = 0 (0/0 included) or x/v overflowing
    return q - lg(q) - 1.0;
  }
  return divergenceFromPowers(beta, x, v, pw.pm1(x), pw.pm1(v));
}
// ---- end of the range-edge forms ----------------------------------------------------------

// The multiplicative update of one entry: f ⊙ (n / (p + eps))^γ. γ = 1 is the seed's (and the
// heuristic) update; the majorise-minimise exponent γ(β) makes every step decrease the cost.
struct StepPlain { template <typename T> BNMF_HD T operator()(T r) const { return r; } };
struct StepSqrt { template <typename T> BNMF_HD T operator()(T r) const { return sqrtT(r); } };
struct StepPow {
  double gamma;
  template <typename T> BNMF_HD T operator()(T r) const { return powT(r, static_cast<T>(gamma)); }
};

template <typename F>
decltype(auto) withStepExponent(double gamma, F&& f) {
  if (gamma == 1.0) return f(StepPlain{});
  if (gamma == 0.5) return f(StepSqrt{});
  return f(StepPow{gamma});
}

template <typename T, typename Step>
BNMF_HD T muStep(Step step, T f, T p, T n, T eps) {
  return f * step(n / (p + eps));
}

// The guards of a step under update 'mm' (core/solver.h), applied to its result `stepped` with
// the entry's value before the step, `prior`:
//   p = n = 0  no information about the entry (a weighted batch where it has no observed
//              entries, a penalty that drove V and the factor to 0): it keeps its value — the
//              plain step would give 0 (eps > 0) or NaN (eps = 0), and MU never leaves 0;
//   otherwise  at least floor·prior: a step from part of the data moves towards the minimiser
//              of the batch's majoriser (separable, unimodal in each entry), and any point
//              between prior and it still decreases that majoriser; floor 0 is the exact step.
template <typename T>
BNMF_HD T guardedStep(T stepped, T prior, T p, T n, T floor) {
  if (p == T(0) && n == T(0)) return prior;
  const T lo = floor * prior;
  return stepped < lo ? lo : stepped;
}


// An entry weight m applied to a part: exactly 0 where m = 0 (0 marks a missing entry, whose
// part may be infinite at V = 0), m·part otherwise.
template <typename T>
BNMF_HD T weighed(T m, T part) {
  return m == T(0) ? T(0) : m * part;
}

// The running SAG sum: grad − old + new.
template <typename T>
BNMF_HD T sagStep(T g, T oldPart, T newPart) {
  return g - oldPart + newPart;
}

// The way and relative size of the step MU takes on one entry, (neg − pos) / (neg + pos) in
// [−1, 1] (0 where both parts are 0): the sign of log(neg / pos), about half of it near 1, and
// bounded where the ratio is noise (the SAG gain compares two batches' steps with it).
template <typename T>
BNMF_HD T relativeStep(T pos, T neg) {
  const T s = neg + pos;
  return s > T(0) ? (neg - pos) / s : T(0);
}

// One step of a running average: (1 − f)·avg + f·part.
template <typename T>
BNMF_HD T blendStep(T avg, T part, T f) {
  return (T(1) - f) * avg + f * part;
}

}  // namespace bnmf
