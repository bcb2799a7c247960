#!/usr/bin/env bash
# npm run test:gpu, on the GPU machine: the GPU self-test and benchmark, then PyTorch on the
# same shape. That machine has no node and no OpenBLAS, so everything is built here and carried
# (the steps: /work/shared/device/README.md, outside this repository):
#   1. /work/shared/device/pack-node.sh        → .devnode/ (node, and unpack-node.sh that puts it
#                                                on PATH and points BETANMF_CUBLAS at cuBLAS)
#   2. npm run build (nvcc here: CUDA compiled in) → build/Release/betanmf.node and dist/
#   3. the device tool's run, carry [".devnode", "dist", "build/Release"] (under 64 MiB together),
#      command: bash scripts/gpu-check.sh   (SHAPE=NxFxK to change the benchmark shape)
# The run tool sets OUT; this writes $OUT/gpu-selftest.json, $OUT/torch.json and $OUT/log.txt.
set -uo pipefail
source .devnode/unpack-node.sh
export BETANMF_NATIVE="$PWD/build/Release/betanmf.node"
OUT="${OUT:-.}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  node scripts/gpu-selftest.js --out "$OUT" --shape "${SHAPE:-100000x513x100}"
  python3 bench/torch_iteration.py --shape "${SHAPE:-100000x513x100}" > "$OUT/torch.json" && cat "$OUT/torch.json"
} 2>&1 | tee "$OUT/log.txt"
