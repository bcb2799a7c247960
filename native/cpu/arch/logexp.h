// log, exp and pow in double as branchless scalar code that each copy of the loops
// (cpu/arch/*.cpp) vectorises for its own ISA (SSE2 lanes included): no calls, no branches, bit
// tricks on 64-bit integers only (shifts, ands, adds; no integer↔double conversion, which AVX2
// lacks for 64-bit lanes). Valid where fastOk() says so (positive normal finite arguments and
// results); the loops send any other lane to core/beta.h's scalar formulas, so 0, denormals,
// ±∞ and NaN keep exactly their meaning.
//
// log: fdlibm's e_log.c kernel (|error| < 1 ulp); exp: Cody–Waite reduction by ln 2 and a
// degree-13 Taylor polynomial on |r| ≤ ln2/2 (< 1 ulp); pow(v, e) = exp(e·log v), whose
// relative error grows with |e·log v| (≈ 1e-15 for |e·log v| ≤ 10, 2e-14 at 700): far inside the
// float64 tolerance the kernels are held to (1e-12), and exact to float rounding for float data.
#pragma once
#include <cstdint>

namespace bnmf::cpu::BNMF_ARCH {

inline std::uint64_t bitsOf(double x) { return __builtin_bit_cast(std::uint64_t, x); }
inline double fromBits(std::uint64_t b) { return __builtin_bit_cast(double, b); }

// Whether x is a positive normal finite double (the domain of logFast).
inline bool positiveNormal(double x) { return x >= 0x1p-1022 && x <= 0x1.fffffffffffffp1023; }

// log(x) for positive normal finite x.
inline double logFast(double x) {
  const std::uint64_t b = bitsOf(x);
  // x = m·2^k with m in [1, 2); k as a double without a conversion: 2^52 + (biased k) − bias.
  double k = fromBits((b >> 52) | 0x4330000000000000ull) - (0x1p52 + 1023.0);
  double m = fromBits((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  // m in [√½, √2): halve m (exactly) above √2.
  const bool high = m > 1.4142135623730951;
  m = high ? 0.5 * m : m;
  k = high ? k + 1.0 : k;
  const double f = m - 1.0, s = f / (2.0 + f), z = s * s, w = z * z;
  const double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const double R = t2 + t1, hfsq = 0.5 * f * f;
  return k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + k * 1.90821492927058770002e-10)) - f);
}

// Whether exp(y) is a normal finite double that expFast computes.
inline bool expInRange(double y) { return y >= -708.0 && y <= 709.0; }

// exp(y) for y in [−708, 709].
inline double expFast(double y) {
  // n = round(y / ln 2) by the 1.5·2^52 trick: its low bits hold n.
  const double shifter = 0x1.8p52;
  const double t = y * 1.4426950408889634 + shifter;
  const double n = t - shifter;
  const double r = (y - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;  // |r| ≤ ln2/2
  double p = 1.6059043836821613e-10;  // 1/13!
  p = p * r + 2.08767569878681e-09;   // 1/12!
  p = p * r + 2.505210838544172e-08;  // 1/11!
  p = p * r + 2.755731922398589e-07;  // 1/10!
  p = p * r + 2.755731922398589e-06;  // 1/9!
  p = p * r + 2.48015873015873e-05;   // 1/8!
  p = p * r + 1.984126984126984e-04;  // 1/7!
  p = p * r + 1.388888888888889e-03;  // 1/6!
  p = p * r + 8.333333333333333e-03;  // 1/5!
  p = p * r + 4.166666666666666e-02;  // 1/4!
  p = p * r + 1.666666666666667e-01;  // 1/3!
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^n from the shifter's low bits (n + 1023 in the exponent field; n in [−1022, 1023]).
  const std::uint64_t scale = (bitsOf(t) + 1023ull) << 52;
  return p * fromBits(scale);
}

// v^e for positive normal v where e·log v stays in expInRange; `ok` false otherwise.
inline double powFast(double v, double e, bool& ok) {
  const double y = e * logFast(positiveNormal(v) ? v : 1.0);
  ok = positiveNormal(v) && expInRange(y);
  return expFast(expInRange(y) ? y : 0.0);
}

}  // namespace bnmf::cpu::BNMF_ARCH
