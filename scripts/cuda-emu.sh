#!/usr/bin/env bash
# npm run test:cuda-emu: the CUDA backend tested without a GPU. Builds the addon with the CUDA
# backend's own sources compiled for the host (BETANMF_CUDA_EMU: an emulated CUDA runtime whose
# allocations start as NaN bytes, a fake cuBLAS with cuBLAS's argument checks, kernels run as
# host loops and threads) under AddressSanitizer and UBSan into build-cuda-emu/, then runs the
# CUDA-vs-CPU tests (test/cuda.test.ts) and the emulation's own (test/cuda-emu.test.ts) on it.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build-cuda-emu --CDBETANMF_CUDA_EMU=ON --CDBETANMF_SANITIZE=address,undefined >/dev/null
npx tsc -p tsconfig.json  # dist/, for the child processes and the GPU self-test
lib="$PWD/build-cuda-emu/Release"
# detect_leaks=0: node keeps allocations until exit (see scripts/memcheck.sh).
export LD_PRELOAD="$(g++ -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export BETANMF_NATIVE="$lib/betanmf.node" BETANMF_CUBLAS="$lib/libcublas_emu.so" BETANMF_CUDA_EMU=1
unset BETANMF_DEVICE
exec npx mocha --no-config --node-option import=tsx --reporter ./test/support/reporter.js --timeout 600000 \
  test/cuda.test.ts test/cuda-emu.test.ts "$@"
