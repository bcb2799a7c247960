// Marks functions usable from host code and, when compiled by nvcc, from CUDA kernels.
#pragma once
#if defined(__CUDACC__)
#define BNMF_HD __host__ __device__ __forceinline__
#else
#define BNMF_HD inline
#endif
#include <cmath>
