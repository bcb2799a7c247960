#include "cuda/context.h"

#include <cstdint>

#include "cuda/cuda_check.h"

namespace bnmf::cuda {
namespace {

// The oldest driver a runtime of this version runs on (CUDA 13: R580, CUDA 12: R525).
constexpr int kMinDriver = CUDART_VERSION >= 13000 ? 580 : 525;

std::string cudaVersion(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

DeviceInfo makeProbe() {
  DeviceInfo p;
  p.compiled = true;
  cudaDriverGetVersion(&p.driverVersion);
  cudaRuntimeGetVersion(&p.runtimeVersion);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) cudaGetLastError();
  if (p.driverVersion == 0) {
    p.reason = "no CUDA driver";
    return p;
  }
  if (e == cudaErrorInsufficientDriver || p.driverVersion < p.runtimeVersion) {
    p.reason = "the NVIDIA driver (CUDA " + cudaVersion(p.driverVersion) + ") is older than this build needs (CUDA " +
               cudaVersion(p.runtimeVersion) + ", driver ≥ " + std::to_string(kMinDriver) + ")";
    return p;
  }
  if (e != cudaSuccess) {
    p.reason = e == cudaErrorNoDevice ? "no CUDA device (" + std::string(cudaGetErrorString(e)) + ")"
                                      : "CUDA unavailable: " + describe(e);
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
  p.blasLibrary = api->path;
  p.available = true;
  return p;
}

const DeviceInfo& probe() {
  static const DeviceInfo p = makeProbe();
  return p;
}

Context* createdContext = nullptr;

std::mutex fatalMutex;
std::string fatalReason;  // set once, by the first fatal error

std::string fatal() {
  std::lock_guard<std::mutex> lock(fatalMutex);
  return fatalReason;
}

}  // namespace

void markFatal(cudaError_t e, const char* call) {
  std::lock_guard<std::mutex> lock(fatalMutex);
  if (fatalReason.empty())
    fatalReason = std::string("the CUDA context failed (") + call + ": " + describe(e) +
                  "); CUDA cannot be used again in this process: restart it";
}

DeviceInfo info() {
  DeviceInfo p = probe();
  if (p.available) {
    if (std::string f = fatal(); !f.empty()) {
      p.available = false;
      p.reason = f;
    }
  }
  return p;
}

Context& Context::get() {
  const DeviceInfo& p = probe();
  if (!p.available) throw ResourceError("CUDA is not available: " + p.reason);
  if (std::string f = fatal(); !f.empty()) throw ResourceError("CUDA is not available: " + f);
  static Context ctx;
  return ctx;
}

Context* Context::created() { return createdContext; }

Context::Context() {
  api_ = loadCublas(nullptr);
  check(cudaSetDevice(0), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaStreamCreateWithFlags(&transfer_, cudaStreamNonBlocking), "cudaStreamCreate");
  // Stream-ordered allocation where the device has memory pools. The default pool would hand
  // freed memory back to the driver at every synchronisation (release threshold 0), making
  // each fit's scratch a fresh cudaMalloc; keep it instead.
  int supported = 0;
  forget(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, 0), "cudaDeviceGetAttribute");
  if (supported) {
    cudaMemPool_t pool = nullptr;
    std::uint64_t keep = UINT64_MAX;
    const cudaError_t e = cudaDeviceGetDefaultMemPool(&pool, 0);
    pools_ = e == cudaSuccess && cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) == cudaSuccess;
    if (!pools_) cudaGetLastError();
  }
  checkCublas(api_->create(&handle_), "cublasCreate");
  checkCublas(api_->setStream(handle_, stream_), "cublasSetStream");
  createdContext = this;
}

void Context::synchronize() {
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  check(cudaGetLastError(), "a CUDA kernel");
}

DeviceMemory::DeviceMemory(std::size_t bytes, cudaStream_t stream) : bytes_(bytes) {
  Context& ctx = Context::get();
  if (bytes > 0) {
    const std::string what = (ctx.pools() ? "cudaMallocAsync of " : "cudaMalloc of ") + std::to_string(bytes) + " bytes";
    check(ctx.pools() ? cudaMallocAsync(&ptr_, bytes, stream) : cudaMalloc(&ptr_, bytes), what.c_str());
  }
  ++deviceMemoryCounts().allocations;
  deviceMemoryCounts().bytes += static_cast<std::int64_t>(bytes);
}

DeviceMemory::~DeviceMemory() {
  --deviceMemoryCounts().allocations;
  deviceMemoryCounts().bytes -= static_cast<std::int64_t>(bytes_);
  if (!ptr_) return;
  // A failure here has nowhere to go (the pointer is gone either way); it must not stay behind
  // as the thread's last error, which an unrelated later call would report.
  Context* ctx = Context::created();
  if (ctx->pools()) forget(cudaFreeAsync(ptr_, ctx->stream()), "cudaFreeAsync");
  else forget(cudaFree(ptr_), "cudaFree");
}

}  // namespace bnmf::cuda
