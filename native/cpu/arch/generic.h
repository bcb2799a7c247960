// The plain loops, compiled into each copy of the loops (cpu/arch/*.cpp) in that copy's
// namespace (BNMF_ARCH) and with its target flags: the compiler vectorises them for that ISA,
// and a copy's hand-written loops fall back to them for what they do not cover. Everything a
// copy defines lives in its own namespace, so the linker never takes one copy's out-of-line
// function (compiled for its ISA) for another's.
#pragma once
#ifndef BNMF_ARCH
#error "define BNMF_ARCH (the copy's namespace) before including cpu/arch/generic.h"
#endif
#include <limits>

#include "core/beta.h"
#include "core/matrix.h"

namespace bnmf::cpu::BNMF_ARCH {

// See Loops::parts (cpu/loops.h).
template <typename T, typename Pow>
inline void partsLoop(Pow pw, bool difference, bool needPos, T floor, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  const Index rows = A.rows, cols = A.cols;
  const T lo = floor > T(0) ? floor : -std::numeric_limits<T>::infinity();
  for (Index i = 0; i < rows; ++i) {
    const T* __restrict x = Xb.row(i);
    T* __restrict a = A.row(i);
    if (difference) {
      for (Index j = 0; j < cols; ++j) a[j] = gradientPart(pw, x[j], clipV(a[j], lo));
    } else if (needPos) {
      T* __restrict b = B.row(i);
      for (Index j = 0; j < cols; ++j) muParts(pw, x[j], clipV(a[j], lo), a[j], b[j]);
    } else {
      for (Index j = 0; j < cols; ++j) a[j] = negPart(pw, x[j], clipV(a[j], lo));
    }
  }
}

// One entry of partsLoop (the vector loops' fallback for lanes they leave to the formulas).
template <typename T, typename Pow>
inline void partsEntry(Pow pw, bool difference, bool needPos, T floor, T x, T& a, T* b) {
  const T lo = floor > T(0) ? floor : -std::numeric_limits<T>::infinity();
  const T v = clipV(a, lo);
  if (difference) a = gradientPart(pw, x, v);
  else if (needPos) muParts(pw, x, v, a, *b);
  else a = negPart(pw, x, v);
}

// a ← weighed(m, a) (and b) over one row.
template <typename T>
inline void weighRow(const T* m, T* a, T* b, Index cols) {
  for (Index j = 0; j < cols; ++j) {
    a[j] = weighed(m[j], a[j]);
    if (b) b[j] = weighed(m[j], b[j]);
  }
}

// o = f ⊙ step(n / (p + eps)) over `count` entries (o may be f).
template <typename T, typename Step>
inline void stepLoop(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  for (Index i = 0; i < count; ++i) o[i] = muStep(step, f[i], p[i], n[i], eps);
}

}  // namespace bnmf::cpu::BNMF_ARCH
