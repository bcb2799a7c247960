// CUDA runtime errors become exceptions (→ JS Errors) naming the call; nothing aborts. A
// recoverable error is cleared so the next call does not report it again; a fatal one (the
// context is lost, e.g. after an illegal address) marks the device unusable for the process.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "core/errors.h"

namespace bnmf::cuda {

// Errors after which CUDA refuses every later call in this process (sticky errors).
inline bool isFatal(int e) {
  switch (e) {
    case 214:  // cudaErrorECCUncorrectable
    case 700:  // cudaErrorIllegalAddress
    case 702:  // cudaErrorLaunchTimeout
    case 710:  // cudaErrorAssert
    case 714: case 715: case 716: case 717: case 718:  // stack, instruction, alignment, address space, pc
    case 719:  // cudaErrorLaunchFailure
      return true;
    default:
      return false;
  }
}

// Records a fatal error (context.cpp); devices() then reports the GPU unusable, with the reason.
void markFatal(cudaError_t e, const char* call);

inline std::string describe(cudaError_t e) { return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")"; }

// Clears a recoverable error left by a call whose failure is handled (or cannot be reported).
inline void forget(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return;
  if (isFatal(e)) markFatal(e, call);
  else cudaGetLastError();
}

inline void check(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return;
  forget(e, call);
  throw ResourceError(std::string(call) + " failed: " + describe(e));
}

}  // namespace bnmf::cuda
