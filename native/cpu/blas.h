// Row-major GEMM on OpenBLAS for float and double: C = alpha·op(A)·op(B) + beta·C,
// with op(A) m×k and op(B) k×n.
#pragma once
#include <cblas.h>

#include "core/matrix.h"

namespace bnmf::cpu {

inline void gemmRaw(bool ta, bool tb, Index m, Index n, Index k, float alpha, const float* A, Index lda,
                    const float* B, Index ldb, float beta, float* C, Index ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}
inline void gemmRaw(bool ta, bool tb, Index m, Index n, Index k, double alpha, const double* A, Index lda,
                    const double* B, Index ldb, double beta, double* C, Index ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

// C = alpha·op(A)·op(B) + beta·C on views. An empty inner dimension leaves beta·C (BLAS
// implementations differ on k = 0, so it is handled here).
template <typename T>
void gemm(bool ta, bool tb, T alpha, CMat<T> A, CMat<T> B, T beta, Mat<T> C) {
  const Index m = C.rows, n = C.cols, k = ta ? A.rows : A.cols;
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (Index i = 0; i < m; ++i) {
      T* c = C.row(i);
      for (Index j = 0; j < n; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
    }
    return;
  }
  gemmRaw(ta, tb, m, n, k, alpha, A.data, A.ld, B.data, B.ld, beta, C.data, C.ld);
}

}  // namespace bnmf::cpu
