// The process's CUDA context: device 0, a compute stream with its cuBLAS handle and the lock
// that jobs take turns with, and a transfer stream for allocation and copies (which take no
// lock, so they never wait on a running job).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "core/backend.h"
#include "cuda/cublas_api.h"

namespace bnmf::cuda {

// What this machine offers (computed once; never throws), with a fatal error since then.
DeviceInfo info();

class Context {
 public:
  // The context, created on first use; throws ResourceError saying why CUDA cannot be used
  // (also after a fatal error has made the device unusable).
  static Context& get();
  // The context if it was created, without any check (for destructors, which must not throw).
  static Context* created();

  cudaStream_t stream() const { return stream_; }
  cudaStream_t transferStream() const { return transfer_; }
  Cublas::Handle blas() const { return handle_; }
  const Cublas& api() const { return *api_; }
  std::mutex& lock() { return mutex_; }
  // Whether stream-ordered allocation (memory pools) is used; otherwise cudaMalloc / cudaFree.
  bool pools() const { return pools_; }
  // Waits for the compute stream and turns any asynchronous failure into an exception.
  void synchronize();

 private:
  Context();
  cudaStream_t stream_ = nullptr;
  cudaStream_t transfer_ = nullptr;
  Cublas::Handle handle_ = nullptr;
  const Cublas* api_ = nullptr;
  bool pools_ = false;
  std::mutex mutex_;
};

// Device memory that frees itself; counted in deviceMemoryCounts(). Allocated in stream order on
// `stream` (cheap for repeated sizes: the pool keeps freed memory), freed in order on the
// compute stream after the work queued there.
class DeviceMemory final : public Allocation {
 public:
  explicit DeviceMemory(std::size_t bytes) : DeviceMemory(bytes, Context::get().stream()) {}
  DeviceMemory(std::size_t bytes, cudaStream_t stream);
  ~DeviceMemory() override;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* get() const { return ptr_; }
  void* data() const override { return ptr_; }
  std::size_t bytes() const override { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace bnmf::cuda
