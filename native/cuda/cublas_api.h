// cuBLAS, opened at run time with dlopen, with our own minimal declarations (this build needs
// neither cuBLAS headers nor the library; a machine without it still loads the addon).
#pragma once
#include <cuda_runtime_api.h>

#include <string>

namespace bnmf::cuda {

struct Cublas {
  using Handle = void*;
  enum Op { N = 0, T = 1 };  // cublasOperation_t
  int (*create)(Handle*) = nullptr;
  int (*setStream)(Handle, cudaStream_t) = nullptr;
  int (*sgemm)(Handle, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*, float*, int) = nullptr;
  int (*dgemm)(Handle, int, int, int, int, int, const double*, const double*, int, const double*, int, const double*, double*, int) = nullptr;
  std::string path;  // the library that was opened
};

// The loaded library (BETANMF_CUBLAS, else libcublas.so.13, else libcublas.so.12), or nullptr
// with `reason` saying what was tried. Loaded once; thread-safe.
const Cublas* loadCublas(std::string* reason);

// "cublasSgemm failed: status 13 (CUBLAS_STATUS_EXECUTION_FAILED)" for a non-zero status.
void checkCublas(int status, const char* call);

}  // namespace bnmf::cuda
