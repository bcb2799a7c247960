// What a CUDA kernel sees, emulated on the host: blockIdx / threadIdx / blockDim / gridDim,
// __syncthreads, __shared__, and the launch. A launch runs every block one after another;
// the threads of a block run one after another too, unless the kernel synchronises
// (BNMF_LAUNCH_SYNCED), in which case they run as fibers and __syncthreads is a barrier.
#pragma once
#include <cmath>
#include <functional>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace bnmf::emu {
struct Coords {
  dim3 threadIdx, blockIdx, blockDim, gridDim;
};
// The calling (emulated) CUDA thread's coordinates.
BNMF_EMU_API Coords* emuCoords();
BNMF_EMU_API void emuSyncthreads();
// Runs body once per CUDA thread of the grid; errors (bad configuration, an injected fault, a
// __syncthreads in a kernel launched without threads) become the runtime's last error.
BNMF_EMU_API void emuLaunch(dim3 grid, dim3 block, cudaStream_t stream, bool synced, const char* name,
                            const std::function<void()>& body);
}  // namespace bnmf::emu

using std::isfinite;
#define threadIdx (::bnmf::emu::emuCoords()->threadIdx)
#define blockIdx (::bnmf::emu::emuCoords()->blockIdx)
#define blockDim (::bnmf::emu::emuCoords()->blockDim)
#define gridDim (::bnmf::emu::emuCoords()->gridDim)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Blocks run one at a time and launches are serialised, so one static array per kernel is
// the block's shared memory.
#define __shared__ static
#define __syncthreads() ::bnmf::emu::emuSyncthreads()
