// The x86-64-v4 (AVX-512) copy of the loops, this file built with -march=x86-64-v4 and 512-bit
// vectors (CMakeLists.txt). The plain loops as the compiler vectorises them (masked), except
// float with a general exponent (cpu/vecmath.h's pow, 16 lanes, a masked tail) and the weights.
#include "cpu/vecmath.h"  // BNMF_HAVE_AVX512_LOOPS: GCC on x86-64, where this copy exists
#if BNMF_HAVE_AVX512_LOOPS
#ifndef __AVX512F__
#error "cpu/arch/avx512.cpp must be compiled with -march=x86-64-v4"
#endif
#include <algorithm>
#include <type_traits>

#define BNMF_ARCH avx512
#include "cpu/arch/generic.h"

namespace bnmf::cpu::avx512 {

template <Mode M, typename T, typename Pow>
BNMF_LOOP void blockParts(Pow pw, T lo, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Pow, PowBetaGeneral>) {
    partsDefault<M, T>(pw, lo, Xb, A, B);
  } else {
    constexpr bool difference = M == Mode::Diff, needPos = M == Mode::Both;
    const float e = static_cast<float>(pw.e);
    const __m512 low = _mm512_set1_ps(lo);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 inRange = _mm512_set1_ps(0x1p-30f), inRangeHi = _mm512_set1_ps(0x1p30f);
    for (Index i = 0; i < A.rows; ++i) {
      prefetchRow(Xb, i);
      const float* x = Xb.row(i);
      float* a = A.row(i);
      float* b = needPos ? B.row(i) : nullptr;
      for (Index j = 0; j < A.cols; j += 16) {
        const __mmask16 m = vec::firstLanes(A.cols - j);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + j);
        // max(lo, v) returns v when v is NaN, as clipV does; idle lanes hold 1.
        const __m512 v = _mm512_max_ps(low, _mm512_mask_loadu_ps(one, m, a + j));
        // Lanes off [2^-30, 2^30] (or NaN) take the scalar formulas: they define V = 0's limits,
        // keep each part in range when it fits, and are exact to rounding where the polynomial
        // pow would lose digits. One such lane sends its 16 to the scalar loop.
        if (_mm512_mask_cmp_ps_mask(m, v, inRange, _CMP_NGE_UQ) | _mm512_mask_cmp_ps_mask(m, v, inRangeHi, _CMP_NLE_UQ)) {
          const Index end = std::min<Index>(A.cols, j + 16);
          for (Index k = j; k < end; ++k) partsAt<M>(pw, x[k], clipV(a[k], lo), a[k], b ? &b[k] : nullptr);
          continue;
        }
        const __m512 t = vec::powPositive(v, e);
        if (difference) {
          _mm512_mask_storeu_ps(a + j, m, _mm512_mul_ps(t, _mm512_sub_ps(xv, v)));
        } else {
          _mm512_mask_storeu_ps(a + j, m, _mm512_mul_ps(t, xv));
          if (needPos) _mm512_mask_storeu_ps(b + j, m, _mm512_mul_ps(t, v));
        }
      }
    }
  }
}

// The weights' select with masks (see the AVX2 copy for why it is written out).
template <typename T>
BNMF_LOOP void weighRows(const T* m, T* a, T* b, Index cols) {
  if constexpr (std::is_same_v<T, float>) {
    const __m512 zero = _mm512_setzero_ps();
    for (Index j = 0; j < cols; j += 16) {
      const __mmask16 t = vec::firstLanes(cols - j);
      const __m512 mv = _mm512_maskz_loadu_ps(t, m + j);
      const __mmask16 nz = _mm512_mask_cmp_ps_mask(t, mv, zero, _CMP_NEQ_OQ);
      _mm512_mask_storeu_ps(a + j, t, _mm512_maskz_mul_ps(nz, mv, _mm512_maskz_loadu_ps(t, a + j)));
      if (b) _mm512_mask_storeu_ps(b + j, t, _mm512_maskz_mul_ps(nz, mv, _mm512_maskz_loadu_ps(t, b + j)));
    }
  } else {
    const __m512d zero = _mm512_setzero_pd();
    for (Index j = 0; j < cols; j += 8) {
      const __mmask8 t = cols - j >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << (cols - j)) - 1u);
      const __m512d mv = _mm512_maskz_loadu_pd(t, m + j);
      const __mmask8 nz = _mm512_mask_cmp_pd_mask(t, mv, zero, _CMP_NEQ_OQ);
      _mm512_mask_storeu_pd(a + j, t, _mm512_maskz_mul_pd(nz, mv, _mm512_maskz_loadu_pd(t, a + j)));
      if (b) _mm512_mask_storeu_pd(b + j, t, _mm512_maskz_mul_pd(nz, mv, _mm512_maskz_loadu_pd(t, b + j)));
    }
  }
}

template <typename T, typename Step>
BNMF_LOOP void stepRange(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Step, StepPow>) {
    stepDefault<T>(step, f, p, n, eps, o, count);
  } else {
    const float gamma = static_cast<float>(step.gamma);
    const __m512 e = _mm512_set1_ps(eps), one = _mm512_set1_ps(1.0f);
    for (Index i = 0; i < count; i += 16) {
      const __mmask16 m = vec::firstLanes(count - i);
      const __m512 d = _mm512_add_ps(_mm512_mask_loadu_ps(one, m, p + i), e);
      const __m512 q = _mm512_div_ps(_mm512_mask_loadu_ps(one, m, n + i), d);
      _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, f + i), vec::powPositive(q, gamma)));
    }
  }
}

template <typename T, typename Pow, bool Weighted>
BNMF_LOOP double divergenceRows(Pow pw, double beta, T lo, CMat<T> X, CMat<T> V, CMat<T> M) {
  return divergenceDefault<T, Pow, Weighted>(pw, beta, lo, X, V, M);
}

}  // namespace bnmf::cpu::avx512

#include "cpu/arch/table.h"
#endif
