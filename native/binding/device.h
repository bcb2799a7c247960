// Device arrays as JS values (a tagged External that frees its memory when collected or
// disposed), and the choice of backend for a job: the CPU, or CUDA when the operands live there.
#pragma once
#include <napi.h>

#include <cstddef>
#include <memory>
#include <mutex>

#include "core/backend.h"

namespace bnmf::binding {

// Device memory held by a JS Matrix on 'cuda'.
struct DeviceArray {
  void* data = nullptr;
  std::size_t length = 0;  // elements
  bool float32 = true;
  std::shared_ptr<void> owner;  // frees the memory when the last user lets go
};

// The DeviceArray behind a JS value, or nullptr when it is not one of ours.
DeviceArray* deviceArrayOf(const Napi::Value& v);

// The backend for operands on the device (true) or on the CPU (false).
template <typename T>
Backend<T>& backendFor(bool device);

// Held by a job that runs on the device, so jobs from several threads take turns.
class DeviceLock {
 public:
  explicit DeviceLock(bool device);

 private:
  std::unique_lock<std::mutex> lock_;
};

// Adds cudaInfo, deviceAlloc, deviceUpload, deviceDownload, deviceFree to the exports.
void registerDevice(Napi::Env env, Napi::Object exports);

}  // namespace bnmf::binding
