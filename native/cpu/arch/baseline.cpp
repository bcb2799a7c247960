// The baseline x86-64 copy of the loops (SSE2; and the only copy on other CPUs): the plain
// loops as the compiler vectorises them.
#define BNMF_ARCH baseline
#include "cpu/arch/generic.h"

namespace bnmf::cpu::baseline {

template <typename T, typename Pow>
void blockParts(Pow pw, bool difference, bool needPos, T floor, CMat<T> X, Mat<T> A, Mat<T> B) {
  partsLoop<T>(pw, difference, needPos, floor, X, A, B);
}

template <typename T>
void weighRows(const T* m, T* a, T* b, Index cols) {
  weighRow<T>(m, a, b, cols);
}

template <typename T, typename Step>
void stepRange(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  stepLoop<T>(step, f, p, n, eps, o, count);
}

}  // namespace bnmf::cpu::baseline

#include "cpu/arch/table.h"
