// Host emulation of the part of the CUDA runtime API that native/cuda uses (BETANMF_CUDA_EMU
// builds only; see native/cuda_emu/runtime.cpp). Same names, types and error codes as CUDA's
// own header, so native/cuda compiles unchanged with g++.
#pragma once
#include <cstddef>
#include <cstdint>

#define CUDART_VERSION 13000

#define BNMF_EMU_API extern "C" __attribute__((visibility("default")))

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr { cudaDevAttrMemoryPoolsSupported = 115 };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 0x4 };

typedef struct CUstream_st* cudaStream_t;
typedef struct CUmemPoolHandle_st* cudaMemPool_t;
#define cudaStreamNonBlocking 0x01

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  int major;
  int minor;
  int multiProcessorCount;
};

BNMF_EMU_API cudaError_t cudaDriverGetVersion(int* version);
BNMF_EMU_API cudaError_t cudaRuntimeGetVersion(int* version);
BNMF_EMU_API cudaError_t cudaGetDeviceCount(int* count);
BNMF_EMU_API cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
BNMF_EMU_API cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
BNMF_EMU_API cudaError_t cudaSetDevice(int device);
BNMF_EMU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
BNMF_EMU_API cudaError_t cudaStreamSynchronize(cudaStream_t stream);
BNMF_EMU_API cudaError_t cudaGetLastError(void);
BNMF_EMU_API cudaError_t cudaPeekAtLastError(void);
BNMF_EMU_API const char* cudaGetErrorName(cudaError_t e);
BNMF_EMU_API const char* cudaGetErrorString(cudaError_t e);
BNMF_EMU_API cudaError_t cudaMalloc(void** ptr, std::size_t bytes);
BNMF_EMU_API cudaError_t cudaFree(void* ptr);
BNMF_EMU_API cudaError_t cudaMallocAsync(void** ptr, std::size_t bytes, cudaStream_t stream);
BNMF_EMU_API cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream);
BNMF_EMU_API cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device);
BNMF_EMU_API cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value);
BNMF_EMU_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                                         cudaStream_t stream);
BNMF_EMU_API cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t stream);

// Kernels: the device-side names (blockIdx, __syncthreads, …) and the host launch loop.
#include "cuda_emu/kernel.h"
