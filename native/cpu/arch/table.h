// The table of one copy of the loops (cpu/loops.h), built from the functions its file defines
// in namespace BNMF_ARCH before including this: blockParts<T>(pow, …), weighRows<T>(m, a, b, cols)
// and stepRange<T>(step, …), each templated on the β or step functor where it has one.
#pragma once
#include "cpu/loops.h"

namespace bnmf::cpu::BNMF_ARCH {

template <typename T>
void parts(const Beta& beta, bool difference, bool needPos, T floor, CMat<T> X, Mat<T> A, Mat<T> B) {
  withBetaPower(beta, [&](auto pw) { blockParts<T>(pw, difference, needPos, floor, X, A, B); });
}

template <typename T>
void weigh(CMat<T> M, Mat<T> A, Mat<T> B) {
  for (Index i = 0; i < A.rows; ++i) weighRows<T>(M.row(i), A.row(i), B.empty() ? nullptr : B.row(i), A.cols);
}

template <typename T>
void step(double gamma, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  withStepExponent(gamma, [&](auto s) { stepRange<T>(s, f, p, n, eps, o, count); });
}

template <typename T>
const Loops<T>& loops() {
  static const Loops<T> table{parts<T>, weigh<T>, step<T>};
  return table;
}

template const Loops<float>& loops<float>();
template const Loops<double>& loops<double>();

}  // namespace bnmf::cpu::BNMF_ARCH
