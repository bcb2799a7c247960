// Kernel launches go through these two macros: a real <<<grid, block, 0, stream>>> under nvcc,
// and a host loop in the emulation build (BETANMF_CUDA_EMU, npm run test:cuda-emu), which runs
// the same kernel source on the CPU. BNMF_LAUNCH_SYNCED is for kernels that call __syncthreads
// (the emulation then runs the threads of a block as fibers, with __syncthreads a barrier).
#pragma once
#include <cuda_runtime_api.h>

#if defined(__CUDACC__)
#define BNMF_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#define BNMF_LAUNCH_SYNCED BNMF_LAUNCH
#define BNMF_D __device__ __forceinline__
#elif defined(BETANMF_CUDA_EMU)
#define BNMF_LAUNCH(kernel, grid, block, stream, ...) \
  ::bnmf::emu::emuLaunch((grid), (block), (stream), false, #kernel, [&] { kernel(__VA_ARGS__); })
#define BNMF_LAUNCH_SYNCED(kernel, grid, block, stream, ...) \
  ::bnmf::emu::emuLaunch((grid), (block), (stream), true, #kernel, [&] { kernel(__VA_ARGS__); })
#define BNMF_D inline
#else
#error "native/cuda is compiled by nvcc, or by g++ with BETANMF_CUDA_EMU (native/cuda_emu)"
#endif
