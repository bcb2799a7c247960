// The CUDA device behind core/backend.h's Accelerator: zeroed allocations, copies to and from
// the host, and the device lock. Allocation and copies run on the context's transfer stream and
// take no lock, so they do not wait for a job computing on the device meanwhile.
#include "cuda/context.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"

namespace bnmf::cuda {
namespace {

class CudaAccelerator final : public Accelerator {
 public:
  DeviceInfo info() override { return cuda::info(); }

  std::shared_ptr<Allocation> allocateZeroed(std::size_t bytes) override {
    Context& ctx = Context::get();
    auto mem = std::make_shared<DeviceMemory>(bytes, ctx.transferStream());
    if (bytes) check(cudaMemsetAsync(mem->get(), 0, bytes, ctx.transferStream()), "cudaMemsetAsync");
    check(cudaStreamSynchronize(ctx.transferStream()), "cudaStreamSynchronize");
    return mem;
  }

  void upload(void* device, const void* host, std::size_t bytes) override { copy(device, host, bytes, cudaMemcpyHostToDevice); }
  void download(void* host, const void* device, std::size_t bytes) override { copy(host, device, bytes, cudaMemcpyDeviceToHost); }

  std::unique_lock<std::mutex> lock() override { return std::unique_lock<std::mutex>(Context::get().lock()); }

 private:
  static void copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return;
    Context& ctx = Context::get();
    check(cudaMemcpyAsync(dst, src, bytes, kind, ctx.transferStream()), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(ctx.transferStream()), "cudaStreamSynchronize");
  }
};

}  // namespace

DeviceInfo deviceInfo() { return info(); }

Accelerator& accelerator() {
  Context::get();  // throws when CUDA is unavailable
  static CudaAccelerator instance;
  return instance;
}

}  // namespace bnmf::cuda
