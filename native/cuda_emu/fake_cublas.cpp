// A stand-in for libcublas with cuBLAS's semantics and argument checks, for the host emulation
// of the CUDA backend (loaded through the real dlopen path: BETANMF_CUBLAS points at it).
// GEMMs are column-major, C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ; status 7
// (CUBLAS_STATUS_INVALID_VALUE) for a negative size, a bad operation or a leading dimension
// below cuBLAS's minimum (lda ≥ max(1, rows of A as stored), likewise ldb, ldc ≥ max(1, m)); C
// is not read when beta = 0, A and B not when k = 0 or alpha = 0. Every operand must lie in
// one device allocation of the emulated runtime (a host pointer, a wrong lda or a transposed
// shape that reaches past the allocation is reported on stderr and fails with status 13,
// CUBLAS_STATUS_EXECUTION_FAILED). Sums are accumulated in the operand type, as cuBLAS does.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>

#include "cuda_emu/control.h"

namespace {

enum Status { kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7, kExecutionFailed = 13 };

struct Handle {
  cudaStream_t stream = nullptr;
};

// The bytes an ld-strided column-major rows×cols operand spans.
std::size_t span(int rows, int cols, int ld, std::size_t elem) {
  if (rows == 0 || cols == 0) return 0;
  return (static_cast<std::size_t>(cols - 1) * static_cast<std::size_t>(ld) + static_cast<std::size_t>(rows)) * elem;
}

bool onDevice(const char* fn, const char* what, const void* p, int rows, int cols, int ld, std::size_t elem) {
  const std::size_t bytes = span(rows, cols, ld, elem);
  if (bytes == 0 || bnmfEmuIsDevice(p, bytes)) return true;
  std::fprintf(stderr, "fake cuBLAS: %s: %s (%d×%d column-major, ld %d) reaches outside device memory\n", fn, what, rows,
               cols, ld);
  return false;
}

template <typename T>
int gemm(const char* fn, void* h, int ta, int tb, int m, int n, int k, const T* alpha, const T* A, int lda, const T* B,
         int ldb, const T* beta, T* C, int ldc) {
  if (!h) return kNotInitialized;
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || m < 0 || n < 0 || k < 0 || !alpha || !beta) return kInvalidValue;
  const int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
  if (lda < std::max(1, aRows) || ldb < std::max(1, bRows) || ldc < std::max(1, m)) {
    std::fprintf(stderr, "fake cuBLAS: %s: invalid leading dimension (m %d, n %d, k %d, op %c%c, lda %d, ldb %d, ldc %d)\n",
                 fn, m, n, k, ta ? 'T' : 'N', tb ? 'T' : 'N', lda, ldb, ldc);
    return kInvalidValue;
  }
  if (m == 0 || n == 0) return kSuccess;
  const bool readAB = k > 0 && *alpha != T(0);
  if (!onDevice(fn, "C", C, m, n, ldc, sizeof(T)) ||
      (readAB && (!onDevice(fn, "A", A, aRows, aCols, lda, sizeof(T)) || !onDevice(fn, "B", B, bRows, bCols, ldb, sizeof(T)))))
    return kExecutionFailed;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      T s = T(0);
      if (readAB)
        for (int l = 0; l < k; ++l) {
          const T a = ta ? A[l + static_cast<long>(i) * lda] : A[i + static_cast<long>(l) * lda];
          const T b = tb ? B[j + static_cast<long>(l) * ldb] : B[l + static_cast<long>(j) * ldb];
          s += a * b;
        }
      T& c = C[i + static_cast<long>(j) * ldc];
      c = *alpha * s + (*beta == T(0) ? T(0) : *beta * c);
    }
  return kSuccess;
}

}  // namespace

BNMF_EMU_API int cublasCreate_v2(void** handle) {
  if (!handle) return kInvalidValue;
  *handle = new Handle();
  return kSuccess;
}
BNMF_EMU_API int cublasDestroy_v2(void* handle) {
  if (!handle) return kNotInitialized;
  delete static_cast<Handle*>(handle);
  return kSuccess;
}
BNMF_EMU_API int cublasSetStream_v2(void* handle, cudaStream_t stream) {
  if (!handle) return kNotInitialized;
  static_cast<Handle*>(handle)->stream = stream;
  return kSuccess;
}
BNMF_EMU_API int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                const float* B, int ldb, const float* beta, float* C, int ldc) {
  return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
BNMF_EMU_API int cublasDgemm_v2(void* h, int ta, int tb, int m, int n, int k, const double* alpha, const double* A,
                                int lda, const double* B, int ldb, const double* beta, double* C, int ldc) {
  return gemm("cublasDgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
