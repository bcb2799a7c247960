#!/bin/sh
# Builds bench/gemm_schedule.cpp against the static OpenBLAS the addon links (paths from
# build/CMakeCache.txt, else Debian's), then runs it: bench/gemm_schedule.sh [N F K [rounds]] or peak [reps]
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/build/CMakeCache.txt"
inc=$(sed -n 's/^OPENBLAS_INCLUDE_DIR:PATH=//p' "$cache" 2>/dev/null)
lib=$(sed -n 's/^OPENBLAS_STATIC_LIB:FILEPATH=//p' "$cache" 2>/dev/null)
inc=${inc:-/usr/include/x86_64-linux-gnu/openblas-pthread}
lib=${lib:-/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a}
out="$root/build/gemm_schedule"
mkdir -p "$root/build"
if [ ! -x "$out" ] || [ "$root/bench/gemm_schedule.cpp" -nt "$out" ]; then
  g++ -O2 -std=c++17 -o "$out" "$root/bench/gemm_schedule.cpp" -I"$inc" "$lib" -pthread -lm
fi
exec "$out" "$@"
