#!/bin/sh
# betanmf and numpy side by side in one run, under the kernels the environment selects AND with
# both OpenBLAS variables unset in these commands alone (OpenBLAS then picks its kernels for
# this CPU: AVX-512 ones on AVX-512 CPUs); betanmf also with its loops held to the AVX2 copy,
# to show what the AVX-512 loops add. Rounds interleave the configurations, so that load from
# other processes hits all alike; the table gives medians over rounds of ratios taken within
# each round, and their spread.
#
#   bench/isa_compare.sh [--shape 10000x513x50] [--beta 0,0.5,1,1.25,1.5,2] [--iters 10] [--rounds 3] [--out DIR]
#
# Needs a built addon (build/Release) and dist/ (npx tsc), python3 with numpy.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
shape=10000x513x50 beta=0,0.5,1,1.25,1.5,2 iters=10 rounds=3 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape=$2; shift 2 ;;
    --beta) beta=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "isa_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/isa_compare.XXXXXX")}
mkdir -p "$out"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
unset_env="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"

echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}; results in $out" >&2
r=1
while [ "$r" -le "$rounds" ]; do
  echo "round $r of $rounds" >&2
  for kset in env unset; do
    run=; [ "$kset" = unset ] && run=$unset_env
    $run "$root/bench/gemm_schedule.sh" peak 3 > "$out/peak-$kset-$r.json"
    for loops in best avx2; do
      isa=; [ "$loops" = avx2 ] && isa=avx2
      $run env BETANMF_CPU_ISA=$isa node "$root/bin/betanmf.js" bench --device cpu --shape "$shape" --beta "$beta" \
        --iters "$iters" --json > "$out/betanmf-$kset-$loops-$r.json"
    done
    $run "$py" "$root/bench/numpy_iteration.py" --shape "$shape" --beta "$beta" --iters "$iters" --sklearn-iters 0 \
      > "$out/numpy-$kset-$r.json"
  done
  r=$((r + 1))
done
"$py" "$root/bench/isa_table.py" "$out"
