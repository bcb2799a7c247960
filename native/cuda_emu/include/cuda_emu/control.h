// Test controls of the host CUDA emulation (BETANMF_CUDA_EMU builds): fault injection, a slow
// kernel, and counters. The addon exposes them as `addon.emu` for test/cuda-emu.test.ts.
#pragma once
#include <cstddef>
#include <cstdint>

#ifndef BNMF_EMU_API
#define BNMF_EMU_API extern "C" __attribute__((visibility("default")))
#endif

struct BnmfEmuState {
  std::uint64_t poolReleaseThreshold;  // the default pool's release threshold as last set
  std::int64_t liveAllocations;
  std::int64_t liveBytes;
  std::int64_t mallocAsyncCalls;  // stream-ordered allocations
  std::int64_t mallocCalls;       // cudaMalloc (the fallback without memory pools)
  std::int64_t launches;
  std::int64_t uploadedBytes;    // copied host → device so far
  std::int64_t downloadedBytes;  // copied device → host so far
  int sleeping;                   // a delayed kernel is running now
  int sticky;                     // the context hit a fatal error (every later call fails)
};

// The next `count` calls of `call` ("cudaFreeAsync", "launch", "cudaMallocAsync", …) fail with
// `error`; a fatal error (cudaErrorIllegalAddress, cudaErrorLaunchFailure) poisons the context.
BNMF_EMU_API void bnmfEmuFail(const char* call, int error, int count);
// The next kernel launch sleeps `ms` milliseconds first (with `sleeping` set meanwhile).
BNMF_EMU_API void bnmfEmuDelayNextLaunch(int ms);
BNMF_EMU_API BnmfEmuState bnmfEmuState();
// Whether [p, p + bytes) lies inside one live device allocation (the fake cuBLAS checks its
// operands with it).
BNMF_EMU_API int bnmfEmuIsDevice(const void* p, std::size_t bytes);
