#!/usr/bin/env bash
# Run on the GPU machine (see ../shared/device/README.md), after building here with
# `npm run build` (CUDA on) and packing node with ../shared/device/pack-node.sh:
#   run carry=[".devnode", "dist", "build/Release"]  command: bash scripts/gpu-check.sh
# Writes $OUT/gpu-selftest.json, $OUT/torch.json and $OUT/log.txt.
set -uo pipefail
source .devnode/unpack-node.sh
export BETANMF_NATIVE="$PWD/build/Release/betanmf.node"
OUT="${OUT:-.}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  node scripts/gpu-selftest.js --out "$OUT" --shape "${SHAPE:-100000x513x100}"
  python3 bench/torch_iteration.py --shape "${SHAPE:-100000x513x100}" > "$OUT/torch.json" && cat "$OUT/torch.json"
} 2>&1 | tee "$OUT/log.txt"
