// The baseline x86-64 copy of the loops (SSE2; and the only copy on other CPUs): the plain loops
// as the compiler vectorises them (cpu/arch/generic.h).
#define BNMF_ARCH baseline
#include "cpu/arch/generic.h"

namespace bnmf::cpu::baseline {

template <Mode M, typename T, typename Pow>
BNMF_LOOP void blockParts(Pow pw, T lo, CMat<T> X, Mat<T> A, Mat<T> B) {
  partsDefault<M, T>(pw, lo, X, A, B);
}

template <typename T>
BNMF_LOOP void weighRows(const T* m, T* a, T* b, Index cols) {
  weighRow<T>(m, a, b, cols);
}

template <typename T, typename Step>
BNMF_LOOP void stepRange(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  stepDefault<T>(step, f, p, n, eps, o, count);
}

template <typename T, typename Pow, bool Weighted>
BNMF_LOOP double divergenceRows(Pow pw, double beta, T lo, CMat<T> X, CMat<T> V, CMat<T> M) {
  return divergenceDefault<T, Pow, Weighted>(pw, beta, lo, X, V, M);
}

}  // namespace bnmf::cpu::baseline

#include "cpu/arch/table.h"
