#!/usr/bin/env bash
# A small mutation check of the CUDA host emulation (issue 27.13): each mutation below breaks a
# CUDA kernel in a way the emulated tests must notice. For each, the source is mutated in place
# (a copy kept aside and put back on exit, whatever happens), the emulation is rebuilt and its
# tests run (npm run test:cuda-emu, filtered to the tests named); the check fails if any mutant
# passes them. Minutes per mutation (an incremental ASan build of one file, then the tests).
# Usage: scripts/mutation-check.sh            (all mutations)
#        scripts/mutation-check.sh v-floor     (those whose name contains the word)
set -uo pipefail
cd "$(dirname "$0")/.."

file=native/cuda/cuda_backend.cu
# name | sed expression on $file | mocha --grep of the tests that must fail
mutations=(
  "v-floor-divergence|s/clipV(V\[e\.idx\], lo)/V[e.idx]/|below the float32 floor"
  "v-floor-parts|s/const T v = clipV(A\[e\.idx\], lo);/const T v = A[e.idx];/|below the float32 floor"
  "step-guard|s/o\[i\] = guardedStep(muStep(step, f\[i\], p\[i\], n\[i\], eps), prior\[i\], p\[i\], n\[i\], floor);/o[i] = muStep(step, f[i], p[i], n[i], eps);/|on CUDA matches the CPU|below the float32 floor"
)

backup="$(mktemp)"
cp "$file" "$backup"
trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT

survived=0
for m in "${mutations[@]}"; do
  IFS='|' read -r name expr grep1 grep2 <<<"$m"
  [[ -n "${1:-}" && "$name" != *"$1"* ]] && continue
  cp "$backup" "$file"
  sed -i "$expr" "$file"
  if cmp -s "$backup" "$file"; then
    echo "mutation $name: the expression no longer matches $file (update this script)"
    survived=1
    continue
  fi
  pattern="$grep1${grep2:+|$grep2}"
  if npm run --silent test:cuda-emu -- --grep "$pattern" >"/tmp/mutation-$name.log" 2>&1; then
    echo "mutation $name: SURVIVED (the tests matching '$pattern' passed; log /tmp/mutation-$name.log)"
    survived=1
  else
    echo "mutation $name: caught ($(grep -Eo '[0-9]+ passed, [0-9]+ failed' "/tmp/mutation-$name.log" | tail -1))"
  fi
done
cp "$backup" "$file"
exit $survived
