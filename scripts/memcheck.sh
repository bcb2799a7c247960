#!/usr/bin/env bash
# npm run test:memcheck: the native code under AddressSanitizer. Builds an ASan variant of
# the addon into build-asan/ and runs a workload over every kernel, the solver and the async
# paths with it; any out-of-bounds access, use after free or double free aborts with a report.
set -euo pipefail
cd "$(dirname "$0")/.."
# (CPU only: the CUDA backend cannot run here, and compiling it again would only cost time.)
npx cmake-js compile --out build-asan --CDBETANMF_SANITIZE=address --CDBETANMF_CUDA=OFF >/dev/null
asan="$(g++ -print-file-name=libasan.so)"
# detect_leaks=0: node itself keeps allocations until exit, which LeakSanitizer would report;
# leaks of ours are checked by the memory-growth test in test/reliability.test.ts.
LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
  BETANMF_NATIVE=build-asan/Release/betanmf.node node scripts/memcheck-workload.js
