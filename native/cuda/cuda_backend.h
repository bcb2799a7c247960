// The CUDA backend: cuBLAS GEMMs and fused CUDA kernels over row blocks of X, the same passes
// as the CPU backend, on the process's context stream.
#pragma once
#include "core/backend.h"

namespace bnmf::cuda {

// The process-wide CUDA backend for float or double; throws ResourceError when CUDA is unavailable.
template <typename T>
Backend<T>& backend();

}  // namespace bnmf::cuda
