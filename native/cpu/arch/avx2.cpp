// The x86-64-v3 (AVX2+FMA) copy of the loops, this file built with -march=x86-64-v3
// (CMakeLists.txt). The plain loops as the compiler vectorises them, except where it does not:
// float with a general exponent (cpu/vecmath.h's pow, 8 lanes) and the weights' select.
#include "cpu/vecmath.h"  // BNMF_HAVE_AVX512_LOOPS: GCC on x86-64, where this copy exists
#if BNMF_HAVE_AVX512_LOOPS
#ifndef __AVX2__
#error "cpu/arch/avx2.cpp must be compiled with -march=x86-64-v3"
#endif
#include <type_traits>

#define BNMF_ARCH avx2
#include "cpu/arch/generic.h"

namespace bnmf::cpu::avx2 {

template <Mode M, typename T, typename Pow>
BNMF_LOOP void blockParts(Pow pw, T lo, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Pow, PowBetaGeneral>) {
    partsDefault<M, T>(pw, lo, Xb, A, B);
  } else {
    constexpr bool difference = M == Mode::Diff, needPos = M == Mode::Both;
    const float e = static_cast<float>(pw.e);
    const __m256 low = _mm256_set1_ps(lo);
    const __m256 inRange = _mm256_set1_ps(0x1p-30f), inRangeHi = _mm256_set1_ps(0x1p30f);
    const Index cols = A.cols, full = cols - cols % 8;
    for (Index i = 0; i < A.rows; ++i) {
      prefetchRow(Xb, i);
      const float* x = Xb.row(i);
      float* a = A.row(i);
      float* b = needPos ? B.row(i) : nullptr;
      for (Index j = 0; j < full; j += 8) {
        const __m256 xv = _mm256_loadu_ps(x + j);
        const __m256 v = _mm256_max_ps(low, _mm256_loadu_ps(a + j));  // v when v is NaN, as clipV
        // As in the AVX-512 copy: lanes off [2^-30, 2^30] (or NaN) take the scalar formulas.
        if (_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(v, inRange, _CMP_NGE_UQ), _mm256_cmp_ps(v, inRangeHi, _CMP_NLE_UQ)))) {
          for (Index k = j; k < j + 8; ++k) partsAt<M>(pw, x[k], clipV(a[k], lo), a[k], b ? &b[k] : nullptr);
          continue;
        }
        const __m256 t = vec::powPositive(v, e);
        if (difference) {
          _mm256_storeu_ps(a + j, _mm256_mul_ps(t, _mm256_sub_ps(xv, v)));
        } else {
          _mm256_storeu_ps(a + j, _mm256_mul_ps(t, xv));
          if (needPos) _mm256_storeu_ps(b + j, _mm256_mul_ps(t, v));
        }
      }
      for (Index j = full; j < cols; ++j) partsAt<M>(pw, x[j], clipV(a[j], lo), a[j], b ? &b[j] : nullptr);
    }
  }
}

// The compiler does not vectorise the weights' select (it sinks the product into a branch and
// may not speculate a product that could trap): product, compare, mask.
template <typename T>
BNMF_LOOP void weighRows(const T* m, T* a, T* b, Index cols) {
  Index j = 0;
  if constexpr (std::is_same_v<T, float>) {
    const __m256 zero = _mm256_setzero_ps();
    for (; j + 8 <= cols; j += 8) {
      const __m256 mv = _mm256_loadu_ps(m + j), nz = _mm256_cmp_ps(mv, zero, _CMP_NEQ_OQ);
      _mm256_storeu_ps(a + j, _mm256_and_ps(nz, _mm256_mul_ps(mv, _mm256_loadu_ps(a + j))));
      if (b) _mm256_storeu_ps(b + j, _mm256_and_ps(nz, _mm256_mul_ps(mv, _mm256_loadu_ps(b + j))));
    }
  } else {
    const __m256d zero = _mm256_setzero_pd();
    for (; j + 4 <= cols; j += 4) {
      const __m256d mv = _mm256_loadu_pd(m + j), nz = _mm256_cmp_pd(mv, zero, _CMP_NEQ_OQ);
      _mm256_storeu_pd(a + j, _mm256_and_pd(nz, _mm256_mul_pd(mv, _mm256_loadu_pd(a + j))));
      if (b) _mm256_storeu_pd(b + j, _mm256_and_pd(nz, _mm256_mul_pd(mv, _mm256_loadu_pd(b + j))));
    }
  }
  weighRow<T>(m + j, a + j, b ? b + j : nullptr, cols - j);
}

template <typename T, typename Step>
BNMF_LOOP void stepRange(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Step, StepPow>) {
    stepDefault<T>(step, f, p, n, eps, o, count);
  } else {
    const float gamma = static_cast<float>(step.gamma);
    const __m256 e = _mm256_set1_ps(eps);
    const Index full = count - count % 8;
    for (Index i = 0; i < full; i += 8) {
      const __m256 q = _mm256_div_ps(_mm256_loadu_ps(n + i), _mm256_add_ps(_mm256_loadu_ps(p + i), e));
      _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_loadu_ps(f + i), vec::powPositive(q, gamma)));
    }
    stepDefault<T>(step, f + full, p + full, n + full, eps, o + full, count - full);
  }
}

template <typename T, typename Pow, bool Weighted>
BNMF_LOOP double divergenceRows(Pow pw, double beta, T lo, CMat<T> X, CMat<T> V, CMat<T> M) {
  return divergenceDefault<T, Pow, Weighted>(pw, beta, lo, X, V, M);
}

}  // namespace bnmf::cpu::avx2

#include "cpu/arch/table.h"
#endif
