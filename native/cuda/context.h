// The process's CUDA context: device 0, one stream, one cuBLAS handle, and a lock so that jobs
// from several libuv threads take turns (the GPU runs them one after another anyway).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "cuda/cublas_api.h"

namespace bnmf::cuda {

struct Probe {
  bool available = false;
  std::string reason;  // why not, when not
  std::string name;
  std::size_t memoryBytes = 0;
  int major = 0, minor = 0;
  int driverVersion = 0, runtimeVersion = 0;
  std::string cublasPath;
};

// What this machine offers; never throws. Computed once.
const Probe& probe();

class Context {
 public:
  // The context, created on first use; throws ResourceError saying why CUDA cannot be used.
  static Context& get();

  cudaStream_t stream() const { return stream_; }
  Cublas::Handle blas() const { return handle_; }
  const Cublas& api() const { return *api_; }
  std::mutex& lock() { return mutex_; }
  // Waits for the stream and turns any asynchronous failure into an exception.
  void synchronize();

 private:
  Context();
  cudaStream_t stream_ = nullptr;
  Cublas::Handle handle_ = nullptr;
  const Cublas* api_ = nullptr;
  std::mutex mutex_;
};

// Device memory that frees itself (stream-ordered allocation, so repeated sizes are cheap).
class DeviceMemory {
 public:
  explicit DeviceMemory(std::size_t bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  void release();  // frees now (dispose); later use is refused by the binding

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace bnmf::cuda
