// CUDA runtime errors become exceptions (→ JS Errors) naming the call; nothing aborts.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "core/errors.h"

namespace bnmf::cuda {

inline void check(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky-free error state so the device stays usable
  throw ResourceError(std::string(call) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace bnmf::cuda
