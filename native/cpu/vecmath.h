// AVX-512 float maths for the β loops (CPU only: core/beta.h keeps the scalar formulas that the
// CUDA kernels share). Every function carries the x86-64-v4 target itself, so this header
// compiles in a baseline build; cpu/isa.h calls into it only on CPUs that have AVX-512.
//
// Accuracy, against the correctly rounded result (the scalar loops' division and sqrt):
//   1/d, n/d      rcp14 + Newton step(s): ≤ 1 ulp
//   1/√v          rsqrt14 + one Newton step: ≤ 2 ulp; v^-1.5 = (1/√v)³: ≤ 5 ulp
//   v^e (pow)     exp(e·log v) with Cephes' float polynomials: ≤ (2 + 2|e·ln v|) ulp
// far inside the float32 tolerance the kernels are tested to (5e-4 relative to the largest
// entry). Lanes where a shortcut could differ from the scalar formula (0, negative, denormal,
// huge, Inf, NaN) take the exact scalar route, so special values keep their meaning.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#define BNMF_HAVE_AVX512_LOOPS 1

// GCC 12 warns on the intrinsics' own "undefined vector" idiom (__Y = __Y; GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cmath>

#include "core/beta.h"

#define BNMF_TARGET_AVX512 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#define BNMF_AVX512_INLINE BNMF_TARGET_AVX512 __attribute__((always_inline)) inline

namespace bnmf::vec {

// Lanes of |d| outside [FLT_MIN, 2^126] or NaN: there rcp14 and the Newton step are not exact
// enough (0, denormal, Inf: 1/d is 0, Inf or denormal).
BNMF_AVX512_INLINE __mmask16 outsideRecipRange(__m512 d) {
  const __m512 a = _mm512_abs_ps(d);
  return _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.17549435e-38f), _CMP_NGE_UQ) |
         _mm512_cmp_ps_mask(a, _mm512_set1_ps(8.50705917e37f), _CMP_NLE_UQ);
}

// 1/d.
BNMF_AVX512_INLINE __m512 recip(__m512 d) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r);
  const __mmask16 odd = outsideRecipRange(d);
  if (odd) r = _mm512_mask_div_ps(r, odd, one, d);
  return r;
}

// n/d: reciprocal, then one correction of the quotient (Markstein).
BNMF_AVX512_INLINE __m512 divide(__m512 n, __m512 d) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r);
  const __m512 q0 = _mm512_mul_ps(n, r);
  __m512 q = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, q0, n), q0);
  // Also where n·(1/d) is not finite (n Inf or NaN, or an overflowing quotient).
  const __mmask16 odd = outsideRecipRange(d) | _mm512_fpclass_ps_mask(q0, 0x99);  // NaN, ±Inf
  if (odd) q = _mm512_mask_div_ps(q, odd, n, d);
  return q;
}

// 1/√v.
BNMF_AVX512_INLINE __m512 rsqrt(__m512 v) {
  __m512 y = _mm512_rsqrt14_ps(v);
  const __m512 h = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
  y = _mm512_mul_ps(y, _mm512_fnmadd_ps(_mm512_mul_ps(h, y), y, _mm512_set1_ps(1.5f)));
  // v below FLT_MIN (0, denormal, negative), +Inf or NaN.
  const __mmask16 odd = _mm512_cmp_ps_mask(v, _mm512_set1_ps(1.17549435e-38f), _CMP_NGE_UQ) |
                        _mm512_cmp_ps_mask(v, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
  if (odd) y = _mm512_mask_div_ps(y, odd, _mm512_set1_ps(1.0f), _mm512_sqrt_ps(v));
  return y;
}

// log(x) for positive normal finite x (Cephes logf: x = m·2^e with m in [√½, √2)).
BNMF_AVX512_INLINE __m512 logPositive(__m512 x) {
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);  // [1, 2)
  __m512 e = _mm512_getexp_ps(x);
  const __mmask16 high = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, high, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, high, e, _mm512_set1_ps(1.0f));
  const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 z = _mm512_mul_ps(f, f);
  __m512 p = _mm512_set1_ps(7.0376836292e-2f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.1514610310e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.1676998740e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.2420140846e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.4249322787e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.6668057665e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.0000714765e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-2.4999993993e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(3.3333331174e-1f));
  __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);  // ln 2 in two parts
  y = _mm512_fmadd_ps(z, _mm512_set1_ps(-0.5f), y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(f, y));
}

// exp(y) for finite y (Cephes expf; scalef gives 0 and Inf past the float range).
BNMF_AVX512_INLINE __m512 expFinite(__m512 y) {
  y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(-110.0f)), _mm512_set1_ps(90.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), y);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

// x^e: exp(e·log x) for positive normal finite x, powf (the scalar loops' function) elsewhere.
BNMF_AVX512_INLINE __m512 powPositive(__m512 x, float e) {
  const __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.17549435e-38f), _CMP_GE_OQ) &
                           _mm512_cmp_ps_mask(x, _mm512_set1_ps(INFINITY), _CMP_LT_OQ);
  __m512 r = expFinite(_mm512_mul_ps(_mm512_set1_ps(e), logPositive(x)));
  if (normal != 0xFFFF) {
    alignas(64) float xs[16], rs[16];
    _mm512_store_ps(xs, x);
    _mm512_store_ps(rs, r);
    for (int i = 0; i < 16; ++i)
      if (!((normal >> i) & 1)) rs[i] = powf(xs[i], e);
    r = _mm512_load_ps(rs);
  }
  return r;
}

// t = v^(β−2) on 16 lanes, one per functor in core/beta.h.
template <typename Pow>
struct Power;
template <> struct Power<PowBetaTwo> {
  explicit Power(PowBetaTwo) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512) const { return _mm512_set1_ps(1.0f); }
};
template <> struct Power<PowBetaOne> {
  explicit Power(PowBetaOne) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const { return recip(v); }
};
template <> struct Power<PowBetaZero> {
  explicit Power(PowBetaZero) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const {
    const __m512 r = recip(v);
    return _mm512_mul_ps(r, r);
  }
};
template <> struct Power<PowBetaHalf> {
  explicit Power(PowBetaHalf) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const {
    const __m512 y = rsqrt(v);
    return _mm512_mul_ps(_mm512_mul_ps(y, y), y);
  }
};
template <> struct Power<PowBetaThreeHalves> {
  explicit Power(PowBetaThreeHalves) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const { return rsqrt(v); }
};
template <> struct Power<PowBetaThree> {
  explicit Power(PowBetaThree) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const { return v; }
};
template <> struct Power<PowBetaInteger> {
  int e;
  explicit Power(PowBetaInteger p) : e(p.e) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const {  // repeated squaring, as ipow
    unsigned m = e < 0 ? static_cast<unsigned>(-e) : static_cast<unsigned>(e);
    __m512 r = _mm512_set1_ps(1.0f), b = v;
    while (m) {
      if (m & 1u) r = _mm512_mul_ps(r, b);
      b = _mm512_mul_ps(b, b);
      m >>= 1u;
    }
    return e < 0 ? recip(r) : r;
  }
};
template <> struct Power<PowBetaGeneral> {
  float e;
  explicit Power(PowBetaGeneral p) : e(static_cast<float>(p.e)) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 v) const { return powPositive(v, e); }
};

// The multiplicative step's exponent on 16 lanes, one per functor in core/beta.h.
template <typename Step>
struct StepOf;
template <> struct StepOf<StepPlain> {
  explicit StepOf(StepPlain) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 r) const { return r; }
};
template <> struct StepOf<StepSqrt> {
  explicit StepOf(StepSqrt) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 r) const { return _mm512_sqrt_ps(r); }
};
template <> struct StepOf<StepPow> {
  float gamma;
  explicit StepOf(StepPow s) : gamma(static_cast<float>(s.gamma)) {}
  BNMF_AVX512_INLINE __m512 operator()(__m512 r) const { return powPositive(r, gamma); }
};

// Lanes [0, n) of 16 (n ≤ 16).
BNMF_AVX512_INLINE __mmask16 firstLanes(long n) {
  return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace bnmf::vec

#endif
