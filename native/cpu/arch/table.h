// The table of one copy of the loops (cpu/loops.h), built from the entry points its file defines
// in namespace BNMF_ARCH before including this (one function per instantiation, BNMF_LOOP):
// blockParts<Mode, T>(pow, lo, X, A, B), weighRows<T>(m, a, b, cols),
// stepRange<T>(step, f, p, n, eps, o, count) and divergenceRows<T, Pow, Weighted>(pow, β, lo, X, V, M).
#pragma once
#include "cpu/loops.h"

namespace bnmf::cpu::BNMF_ARCH {

// V's lower clip: the floor, or none (−∞) for a floor of 0.
template <typename T>
T clipLow(T floor) {
  return floor > T(0) ? floor : -std::numeric_limits<T>::infinity();
}

template <typename T>
void parts(const Beta& beta, bool difference, bool needPos, T floor, CMat<T> X, Mat<T> A, Mat<T> B) {
  withBetaPower(beta, [&](auto pw) {
    if (difference) blockParts<Mode::Diff, T>(pw, clipLow(floor), X, A, B);
    else if (needPos) blockParts<Mode::Both, T>(pw, clipLow(floor), X, A, B);
    else blockParts<Mode::Neg, T>(pw, clipLow(floor), X, A, B);
  });
}

template <typename T>
void weigh(CMat<T> M, Mat<T> A, Mat<T> B) {
  for (Index i = 0; i < A.rows; ++i) {
    prefetchRow(M, i);  // M in column slices, as X (see prefetchRow)
    weighRows<T>(M.row(i), A.row(i), B.empty() ? nullptr : B.row(i), A.cols);
  }
}

template <typename T>
void step(double gamma, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  withStepExponent(gamma, [&](auto s) { stepRange<T>(s, f, p, n, eps, o, count); });
}

template <typename T>
double divergence(const Beta& beta, T vFloor, CMat<T> X, CMat<T> V, CMat<T> M) {
  return withBetaPower(beta, [&](auto pw) {
    using Pow = decltype(pw);
    if (M.empty()) return divergenceRows<T, Pow, false>(pw, beta.value, clipLow(vFloor), X, V, M);
    return divergenceRows<T, Pow, true>(pw, beta.value, clipLow(vFloor), X, V, M);
  });
}

template <typename T>
const Loops<T>& loops() {
  static const Loops<T> table{parts<T>, weigh<T>, step<T>, divergence<T>};
  return table;
}

template const Loops<float>& loops<float>();
template const Loops<double>& loops<double>();

}  // namespace bnmf::cpu::BNMF_ARCH
