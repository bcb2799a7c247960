#include "cuda/context.h"

#include "cuda/cuda_check.h"

namespace bnmf::cuda {
namespace {

Probe makeProbe() {
  Probe p;
  cudaDriverGetVersion(&p.driverVersion);
  cudaRuntimeGetVersion(&p.runtimeVersion);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    p.reason = e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice
                   ? (p.driverVersion == 0 ? "no CUDA driver" : std::string("no CUDA device (") + cudaGetErrorString(e) + ")")
                   : std::string("CUDA unavailable: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return p;
  }
  if (count == 0) {
    p.reason = "no CUDA device";
    return p;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    cudaGetLastError();
    p.reason = "cudaGetDeviceProperties failed";
    return p;
  }
  p.name = prop.name;
  p.memoryBytes = prop.totalGlobalMem;
  p.major = prop.major;
  p.minor = prop.minor;
  std::string why;
  const Cublas* api = loadCublas(&why);
  if (!api) {
    p.reason = why;
    return p;
  }
  p.cublasPath = api->path;
  p.available = true;
  return p;
}

}  // namespace

const Probe& probe() {
  static const Probe p = makeProbe();
  return p;
}

Context& Context::get() {
  const Probe& p = probe();
  if (!p.available) throw ResourceError("CUDA is not available: " + p.reason);
  static Context ctx;
  return ctx;
}

Context::Context() {
  api_ = loadCublas(nullptr);
  check(cudaSetDevice(0), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  checkCublas(api_->create(&handle_), "cublasCreate");
  checkCublas(api_->setStream(handle_, stream_), "cublasSetStream");
}

void Context::synchronize() {
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  check(cudaGetLastError(), "a CUDA kernel");
}

DeviceMemory::DeviceMemory(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  Context& ctx = Context::get();
  check(cudaMallocAsync(&ptr_, bytes, ctx.stream()), ("cudaMallocAsync of " + std::to_string(bytes) + " bytes").c_str());
}

DeviceMemory::~DeviceMemory() { release(); }

void DeviceMemory::release() {
  if (!ptr_) return;
  cudaFreeAsync(ptr_, Context::get().stream());  // a failure here has nowhere to go; the pointer is gone either way
  ptr_ = nullptr;
}

}  // namespace bnmf::cuda
