// A host emulation of the CUDA runtime calls native/cuda makes, for testing the CUDA backend
// without a GPU (npm run test:cuda-emu). Device memory is host memory from malloc, filled with
// 0xFF bytes (NaN in float32 and float64) so that reading scratch nobody wrote shows in the
// results; every copy, memset and free checks that its device side is a live allocation. Errors
// follow CUDA's rules: the last error is per host thread and cleared by cudaGetLastError, except
// after a fatal one (illegal address), which every later call returns. Streams run their work
// at once, in call order. Settings (environment):
//   BETANMF_EMU_MEMORY   device memory in bytes (default 1 GiB); more is cudaErrorMemoryAllocation
//   BETANMF_EMU_DRIVER   the driver's CUDA version (default 13000); older than 13000 makes
//                        cudaGetDeviceCount fail with cudaErrorInsufficientDriver, as CUDA 13 does
//   BETANMF_EMU_NO_POOLS 1: no stream-ordered allocator (cudaMallocAsync is cudaErrorNotSupported)
#include <cuda_runtime_api.h>
// The kernel-side names are for kernels; here they are members of Coords.
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ucontext.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "cuda_emu/control.h"

namespace {

std::size_t envSize(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

struct Runtime {
  std::mutex mutex;
  std::map<std::uintptr_t, std::size_t> allocations;  // start → bytes
  std::size_t liveBytes = 0;
  std::size_t capacity = envSize("BETANMF_EMU_MEMORY", std::size_t(1) << 30);
  int driver = static_cast<int>(envSize("BETANMF_EMU_DRIVER", 13000));
  bool pools = envSize("BETANMF_EMU_NO_POOLS", 0) == 0;
  std::uint64_t releaseThreshold = 0;
  std::int64_t mallocAsyncCalls = 0, mallocCalls = 0, launches = 0;
  std::int64_t uploadedBytes = 0, downloadedBytes = 0;  // cudaMemcpyAsync host → device, device → host
  std::atomic<int> sticky{0};
  std::atomic<int> sleeping{0};
  std::map<std::string, std::pair<int, int>> faults;  // call → (error, remaining count)
  int delayMs = 0;
  std::mutex launchMutex;  // one launch at a time (see __shared__ in kernel.h)
};

Runtime& rt() {
  static Runtime* r = new Runtime();  // never destroyed: finalizers may free memory at exit
  return *r;
}

thread_local cudaError_t lastError = cudaSuccess;

bool fatal(int e) { return e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure; }

cudaError_t fail(cudaError_t e) {
  if (fatal(e)) rt().sticky.store(e);
  lastError = e;
  return e;
}

// The error a call returns before doing anything: the context's fatal error, or an injected one.
cudaError_t precheck(const char* call) {
  Runtime& r = rt();
  if (int s = r.sticky.load()) return fail(static_cast<cudaError_t>(s));
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.faults.find(call);
  if (it == r.faults.end() || it->second.second <= 0) return cudaSuccess;
  const int e = it->second.first;
  if (--it->second.second == 0) r.faults.erase(it);
  return fail(static_cast<cudaError_t>(e));
}

// Whether [p, p + bytes) lies in one live allocation (caller holds the mutex).
bool inDevice(const void* p, std::size_t bytes) {
  Runtime& r = rt();
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = r.allocations.upper_bound(a);
  if (it == r.allocations.begin()) return false;
  --it;
  return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

cudaError_t allocate(void** ptr, std::size_t bytes) {
  Runtime& r = rt();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (bytes > r.capacity - r.liveBytes) return fail(cudaErrorMemoryAllocation);
  void* p = std::malloc(bytes);
  if (!p) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, bytes);  // NaN in both float types: unwritten scratch shows
  r.allocations[reinterpret_cast<std::uintptr_t>(p)] = bytes;
  r.liveBytes += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr) {
  if (!ptr) return cudaSuccess;
  Runtime& r = rt();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.allocations.find(reinterpret_cast<std::uintptr_t>(ptr));
  if (it == r.allocations.end()) return fail(cudaErrorInvalidValue);  // not ours, or freed twice
  r.liveBytes -= it->second;
  r.allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

// The threads of a block that synchronises run as fibers (ucontext) on the launching thread:
// each runs until its next __syncthreads (or its end), then the next one runs; when all have
// arrived the round starts again. That is a barrier with CUDA's meaning, at the cost of a
// context switch instead of an OS thread per CUDA thread. (AddressSanitizer is told about the
// stack switches.)
struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;
  dim3 tid;
  bool done = false;
  void* fakeStack = nullptr;
};
constexpr std::size_t kFiberStack = 256 * 1024;

thread_local bnmf::emu::Coords coords;
thread_local bool inSequentialLaunch = false;
thread_local Fiber* currentFiber = nullptr;
thread_local ucontext_t schedulerCtx;
thread_local const std::function<void()>* fiberBody = nullptr;
thread_local const void* schedulerStack = nullptr;
thread_local std::size_t schedulerStackSize = 0;

#if defined(__SANITIZE_ADDRESS__)
void startSwitch(void** save, const void* bottom, std::size_t size) { __sanitizer_start_switch_fiber(save, bottom, size); }
void finishSwitch(void* save, const void** bottom, std::size_t* size) { __sanitizer_finish_switch_fiber(save, bottom, size); }
#else
void startSwitch(void**, const void*, std::size_t) {}
void finishSwitch(void*, const void**, std::size_t*) {}
#endif

// From a fiber back to the scheduler.
void yieldToScheduler(bool exiting) {
  Fiber* f = currentFiber;
  startSwitch(exiting ? nullptr : &f->fakeStack, schedulerStack, schedulerStackSize);
  swapcontext(&f->ctx, &schedulerCtx);
  finishSwitch(f->fakeStack, &schedulerStack, &schedulerStackSize);
}

void fiberMain() {
  finishSwitch(nullptr, &schedulerStack, &schedulerStackSize);
  (*fiberBody)();
  currentFiber->done = true;
  yieldToScheduler(true);
}

// Runs one block's threads as fibers until all have finished.
void runFibers(std::vector<Fiber>& fibers, const bnmf::emu::Coords& base, const std::function<void()>& body) {
  thread_local std::vector<std::unique_ptr<char[]>> stacks;  // kept for the next launch
  while (stacks.size() < fibers.size()) stacks.emplace_back(new char[kFiberStack]);
  fiberBody = &body;
  for (std::size_t i = 0; i < fibers.size(); ++i) {
    Fiber& f = fibers[i];
    f.done = false;
    f.stack = stacks[i].get();
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kFiberStack;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiberMain, 0);
  }
  for (bool any = true; any;) {
    any = false;
    for (Fiber& f : fibers) {
      if (f.done) continue;
      any = true;
      coords = base;
      coords.threadIdx = f.tid;
      currentFiber = &f;
      void* save = nullptr;
      startSwitch(&save, f.stack, kFiberStack);
      swapcontext(&schedulerCtx, &f.ctx);
      finishSwitch(save, nullptr, nullptr);
    }
  }
  currentFiber = nullptr;
}

struct SyncWithoutThreads {};

}  // namespace

BNMF_EMU_API cudaError_t cudaDriverGetVersion(int* v) {
  *v = rt().driver;
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaGetDeviceCount(int* count) {
  *count = 0;
  if (rt().driver < CUDART_VERSION) return fail(cudaErrorInsufficientDriver);
  if (cudaError_t e = precheck("cudaGetDeviceCount")) return e;
  *count = static_cast<int>(envSize("BETANMF_EMU_DEVICES", 1));
  return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}
BNMF_EMU_API cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "betanmf host emulation");
  prop->totalGlobalMem = rt().capacity;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 2;
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  if (attr != cudaDevAttrMemoryPoolsSupported) return fail(cudaErrorInvalidValue);
  *value = rt().pools ? 1 : 0;
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaSetDevice(int device) {
  if (cudaError_t e = precheck("cudaSetDevice")) return e;
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
BNMF_EMU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  if (cudaError_t e = precheck("cudaStreamCreate")) return e;
  static int streams = 0;
  *stream = reinterpret_cast<cudaStream_t>(static_cast<std::uintptr_t>(0x5000 + 16 * ++streams));
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaStreamSynchronize(cudaStream_t) { return precheck("cudaStreamSynchronize"); }
BNMF_EMU_API cudaError_t cudaGetLastError(void) {
  if (int s = rt().sticky.load()) return static_cast<cudaError_t>(s);
  const cudaError_t e = lastError;
  lastError = cudaSuccess;
  return e;
}
BNMF_EMU_API cudaError_t cudaPeekAtLastError(void) {
  if (int s = rt().sticky.load()) return static_cast<cudaError_t>(s);
  return lastError;
}
BNMF_EMU_API const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    default: return "cudaErrorUnknown";
  }
}
BNMF_EMU_API const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    default: return "unknown error";
  }
}
BNMF_EMU_API cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  if (cudaError_t e = precheck("cudaMalloc")) return e;
  {
    std::lock_guard<std::mutex> lock(rt().mutex);
    ++rt().mallocCalls;
  }
  return allocate(ptr, bytes);
}
BNMF_EMU_API cudaError_t cudaFree(void* ptr) {
  if (cudaError_t e = precheck("cudaFree")) return e;
  return release(ptr);
}
BNMF_EMU_API cudaError_t cudaMallocAsync(void** ptr, std::size_t bytes, cudaStream_t) {
  if (cudaError_t e = precheck("cudaMallocAsync")) return e;
  if (!rt().pools) return fail(cudaErrorNotSupported);
  {
    std::lock_guard<std::mutex> lock(rt().mutex);
    ++rt().mallocAsyncCalls;
  }
  return allocate(ptr, bytes);
}
BNMF_EMU_API cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  if (cudaError_t e = precheck("cudaFreeAsync")) return e;
  if (!rt().pools) return fail(cudaErrorNotSupported);
  return release(ptr);
}
BNMF_EMU_API cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  if (!rt().pools) return fail(cudaErrorNotSupported);
  *pool = reinterpret_cast<cudaMemPool_t>(static_cast<std::uintptr_t>(0x7000));
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (!pool || attr != cudaMemPoolAttrReleaseThreshold || !value) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(rt().mutex);
  rt().releaseThreshold = *static_cast<std::uint64_t*>(value);
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                                         cudaStream_t) {
  if (cudaError_t e = precheck("cudaMemcpyAsync")) return e;
  if (bytes == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(rt().mutex);
    const bool dstDev = inDevice(dst, bytes), srcDev = inDevice(src, bytes);
    const bool ok = (kind == cudaMemcpyHostToDevice && dstDev && !srcDev) ||
                    (kind == cudaMemcpyDeviceToHost && srcDev && !dstDev) ||
                    (kind == cudaMemcpyDeviceToDevice && srcDev && dstDev) || kind == cudaMemcpyDefault;
    if (!ok || !dst || !src) {
      std::fprintf(stderr, "cuda-emu: cudaMemcpyAsync of %zu bytes, kind %d: %s side is not what the kind says\n", bytes,
                   int(kind), kind == cudaMemcpyHostToDevice ? "destination (device)" : "source or destination");
      return fail(cudaErrorInvalidValue);
    }
    if (dstDev && !srcDev) rt().uploadedBytes += static_cast<std::int64_t>(bytes);
    if (srcDev && !dstDev) rt().downloadedBytes += static_cast<std::int64_t>(bytes);
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
BNMF_EMU_API cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t) {
  if (cudaError_t e = precheck("cudaMemsetAsync")) return e;
  if (bytes == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(rt().mutex);
    if (!inDevice(ptr, bytes)) {
      std::fprintf(stderr, "cuda-emu: cudaMemsetAsync of %zu bytes outside device memory\n", bytes);
      return fail(cudaErrorInvalidValue);
    }
  }
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

namespace bnmf::emu {

BNMF_EMU_API Coords* emuCoords() { return &coords; }

BNMF_EMU_API void emuSyncthreads() {
  if (inSequentialLaunch) throw SyncWithoutThreads{};
  if (currentFiber) yieldToScheduler(false);
}

BNMF_EMU_API void emuLaunch(dim3 grid, dim3 block, cudaStream_t, bool synced, const char* name,
                            const std::function<void()>& body) {
  Runtime& r = rt();
  if (precheck("launch")) return;
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    std::fprintf(stderr, "cuda-emu: %s launched with grid (%u, %u, %u), block (%u, %u, %u)\n", name, grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  std::lock_guard<std::mutex> launchLock(r.launchMutex);
  int delay = 0;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    ++r.launches;
    std::swap(delay, r.delayMs);
  }
  if (delay > 0) {
    r.sleeping.store(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    r.sleeping.store(0);
  }
  const Coords saved = coords;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        const dim3 blockIdx3(bx, by, bz);
        if (!synced) {
          inSequentialLaunch = true;
          try {
            for (unsigned tz = 0; tz < block.z; ++tz)
              for (unsigned ty = 0; ty < block.y; ++ty)
                for (unsigned tx = 0; tx < block.x; ++tx) {
                  coords = Coords{dim3(tx, ty, tz), blockIdx3, block, grid};
                  body();
                }
          } catch (SyncWithoutThreads) {
            std::fprintf(stderr, "cuda-emu: %s calls __syncthreads but was launched with BNMF_LAUNCH\n", name);
            inSequentialLaunch = false;
            coords = saved;
            fail(cudaErrorLaunchFailure);
            return;
          }
          inSequentialLaunch = false;
          continue;
        }
        std::vector<Fiber> fibers(threads);
        std::size_t t = 0;
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx) fibers[t++].tid = dim3(tx, ty, tz);
        runFibers(fibers, Coords{dim3(), blockIdx3, block, grid}, body);
      }
  coords = saved;
}

}  // namespace bnmf::emu

BNMF_EMU_API void bnmfEmuFail(const char* call, int error, int count) {
  std::lock_guard<std::mutex> lock(rt().mutex);
  rt().faults[call] = {error, count};
}

BNMF_EMU_API void bnmfEmuDelayNextLaunch(int ms) {
  std::lock_guard<std::mutex> lock(rt().mutex);
  rt().delayMs = ms;
}

BNMF_EMU_API BnmfEmuState bnmfEmuState() {
  Runtime& r = rt();
  std::lock_guard<std::mutex> lock(r.mutex);
  BnmfEmuState s{};
  s.poolReleaseThreshold = r.releaseThreshold;
  s.liveAllocations = static_cast<std::int64_t>(r.allocations.size());
  s.liveBytes = static_cast<std::int64_t>(r.liveBytes);
  s.mallocAsyncCalls = r.mallocAsyncCalls;
  s.mallocCalls = r.mallocCalls;
  s.launches = r.launches;
  s.uploadedBytes = r.uploadedBytes;
  s.downloadedBytes = r.downloadedBytes;
  s.sleeping = r.sleeping.load();
  s.sticky = r.sticky.load();
  return s;
}

BNMF_EMU_API int bnmfEmuIsDevice(const void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(rt().mutex);
  return inDevice(p, bytes) ? 1 : 0;
}
