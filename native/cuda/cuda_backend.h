// The CUDA device and backend, as the rest of the addon sees them (no CUDA headers here).
#pragma once
#include "core/backend.h"

namespace bnmf::cuda {

// What the GPU is and whether it can be used; never throws.
DeviceInfo deviceInfo();

// Device memory, copies and the device lock; throws ResourceError when CUDA is unavailable.
Accelerator& accelerator();

// The process-wide CUDA backend for float or double; throws ResourceError when CUDA is unavailable.
template <typename T>
Backend<T>& backend();

}  // namespace bnmf::cuda
