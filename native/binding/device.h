// Device arrays as JS values (a tagged External that frees its memory when collected or
// disposed), and the choice of backend for a job: the CPU, or the device its operands live on.
// Memory, copies and the device lock come from the device's Accelerator (core/backend.h); no
// CUDA header is needed here.
#pragma once
#include <napi.h>

#include <cstddef>
#include <memory>
#include <mutex>

#include "core/backend.h"

namespace bnmf::binding {

// Device memory held by a JS Matrix on a device.
struct DeviceArray {
  void* data = nullptr;
  std::size_t length = 0;  // elements
  bool float32 = true;
  Device device = Device::Cuda;
  std::shared_ptr<void> owner;  // frees the memory when the last user lets go
  std::int64_t reportedBytes = 0;  // told to V8 (AdjustExternalMemory) and not yet taken back
};

// The DeviceArray behind a JS value, or nullptr when it is not one of ours.
DeviceArray* deviceArrayOf(const Napi::Value& v);

// The memory, copies and lock of a device with memory of its own; throws ResourceError saying
// why when it cannot be used (or for the CPU).
Accelerator& acceleratorFor(Device device);

// The backend for operands on `device`; throws ResourceError when it cannot be used.
template <typename T>
Backend<T>& backendFor(Device device);

// Held by a job while it computes on `device` (nothing for the CPU), so jobs from several
// threads take turns.
class DeviceLock {
 public:
  explicit DeviceLock(Device device);

 private:
  std::unique_lock<std::mutex> lock_;
};

// Adds cudaInfo, deviceAlloc, deviceUpload, deviceDownload, deviceFree and deviceMemory to the
// exports (and `emu`, the emulation's test controls, in a BETANMF_CUDA_EMU build).
void registerDevice(Napi::Env env, Napi::Object exports);

}  // namespace bnmf::binding
