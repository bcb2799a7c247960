// A vectorised float pow for the AVX-512 and AVX2 copies of the β loops (CPU only: core/beta.h keeps the
// scalar formulas that the CUDA kernels share). The functions carry the x86-64-v4 target
// themselves, so this header compiles in a baseline build; cpu/isa.h calls into each only on
// CPUs that have its ISA.
//
// Only pow is worth it: the scalar powf costs ~4 ns an entry and does not vectorise, this one
// ~0.65 ns (16 lanes of AVX-512). Division and sqrt stay exact: measured in cache on this AMD Zen 5, the
// compiler's vdivps/vsqrtps (zmm) were as fast as rcp14/rsqrt14 with a Newton step (0.08–0.14 vs
// 0.11–0.13 ns an entry), and the loops are bound by memory traffic anyway.
//
// Accuracy: exp(e·log v) with Cephes' float polynomials, ≤ (2 + 2|e·ln v|) ulp against the
// correctly rounded v^e, far inside the float32 tolerance the kernels are tested to (5e-4
// relative to the largest entry). Lanes where v is not a positive normal finite number (0,
// negative, denormal, Inf, NaN) take powf, so special values keep their meaning.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)  // GCC: target("arch=…") and cpu levels
#define BNMF_HAVE_AVX512_LOOPS 1

// GCC 12 warns on the intrinsics' own "undefined vector" idiom (__Y = __Y; GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cmath>

#define BNMF_TARGET_AVX512 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#define BNMF_AVX512_INLINE BNMF_TARGET_AVX512 __attribute__((always_inline)) inline
#define BNMF_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#define BNMF_AVX2_INLINE BNMF_TARGET_AVX2 __attribute__((always_inline)) inline

namespace bnmf::vec {

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

// The same pow on 8 lanes of AVX2+FMA (no getexp/getmant/scalef there: exponent bits by hand).
BNMF_AVX2_INLINE __m256 powPositive(__m256 x, float e) {
  const __m256 one = _mm256_set1_ps(1.0f);
  // log x: x = m·2^k, m in [√½, √2).
  const __m256i bits = _mm256_castps_si256(x);
  __m256 k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_castps_si256(one)));
  const __m256 high = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), high);
  k = _mm256_add_ps(k, _mm256_and_ps(high, one));
  const __m256 f = _mm256_sub_ps(m, one);
  const __m256 z = _mm256_mul_ps(f, f);
  __m256 p = _mm256_set1_ps(7.0376836292e-2f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.1514610310e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.1676998740e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.2420140846e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.4249322787e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.6668057665e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.0000714765e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-2.4999993993e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(3.3333331174e-1f));
  __m256 l = _mm256_mul_ps(_mm256_mul_ps(p, f), z);
  l = _mm256_fmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), l);
  l = _mm256_fmadd_ps(z, _mm256_set1_ps(-0.5f), l);
  l = _mm256_fmadd_ps(k, _mm256_set1_ps(0.693359375f), _mm256_add_ps(f, l));
  // exp(e·log x), 2^n applied as two normal factors so that overflow and underflow come out right.
  __m256 y = _mm256_mul_ps(_mm256_set1_ps(e), l);
  y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(-110.0f)), _mm256_set1_ps(90.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), y);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 q = _mm256_set1_ps(1.9875691500e-4f);
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.3981999507e-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(8.3334519073e-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(4.1665795894e-2f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.6666665459e-1f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(5.0000001201e-1f));
  q = _mm256_add_ps(_mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r), one);
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  __m256 res = _mm256_mul_ps(_mm256_mul_ps(q, p1), p2);
  // powf where x is not a positive normal finite number.
  const __m256 normal = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_GE_OQ),
                                      _mm256_cmp_ps(x, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
  const int ok = _mm256_movemask_ps(normal);
  if (ok != 0xFF) {
    alignas(32) float xs[8], rs[8];
    _mm256_store_ps(xs, x);
    _mm256_store_ps(rs, res);
    for (int i = 0; i < 8; ++i)
      if (!((ok >> i) & 1)) rs[i] = powf(xs[i], e);
    res = _mm256_load_ps(rs);
  }
  return res;
}

// Lanes [0, n) of 16 (n ≤ 16).
BNMF_AVX512_INLINE __mmask16 firstLanes(long n) {
  return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace bnmf::vec

#endif
