// How the CPU passes are cut into blocks and shared between threads. Every rule depends on the
// shapes only, never on the number of threads: each block is the same GEMM whichever thread
// runs it, and sums over blocks are taken in block order, so results are identical bit for bit
// for 1, 2 or 64 threads. Threads then share out whole blocks.
#pragma once
#include <algorithm>

#include "core/matrix.h"
#include "cpu/parallel.h"

namespace bnmf::cpu {

// Rows per block so that one b×cols scratch buffer is about 256 KiB (two of them stay in L2).
template <typename T>
Index blockRows(Index cols) {
  const Index target = (256 * 1024) / (static_cast<Index>(sizeof(T)) * std::max<Index>(cols, 1));
  return std::clamp<Index>(target, 16, 512);
}

// Rows per block for a pass over `rows` rows of `cols` columns: about cache-sized, and at
// least four blocks when there are enough rows (a mini-batch of 100–300 rows is then still
// shared between cores). Below 64 rows a block is not worth it: each one packs W again.
template <typename T>
Index rowBlocks(Index rows, Index cols) {
  const Index rb = blockRows<T>(cols);
  const Index quarter = ((rows + 3) / 4 + 15) / 16 * 16;
  const Index cap = std::max<Index>(1, std::min({rb, std::max<Index>(64, quarter), rows}));  // never more rows than there are
  // Blocks of equal size (a multiple of 16 rows), not full ones and a sliver: 1024 rows in 8
  // blocks of 128 rather than 8 of 127 and one of 8, so 2 or 4 threads get equal shares.
  const Index blocks = (rows + cap - 1) / cap;
  return std::min(cap, ((rows + blocks - 1) / blocks + 15) / 16 * 16);
}

// Column slices for passes parallel over the columns of X (W's rows): about 64 wide, at most 32
// slices, and a multiple of 4 from 4 on (513 columns: 8 slices, not 9), so 2 or 4 threads balance.
inline Index columnSlices(Index cols) {
  const Index s = std::max<Index>(1, (cols + 32) / 64);
  return std::min<Index>(32, s < 4 ? s : (s + 2) / 4 * 4);
}

// Threads worth using for `units` independent pieces of work totalling `flops`.
inline int threadsFor(Index units, double flops) {
  if (flops < 1e6 || units < 2) return 1;
  return static_cast<int>(std::min<Index>(maxThreads(), units));
}

// Runs piece(i, thread) for i in [0, pieces) on the threads worth using for `flops` of work,
// each thread taking a contiguous run of pieces (which thread runs a piece never changes it).
template <typename Fn>
void forEachPiece(Index pieces, double flops, Fn&& piece) {
  const int parts = threadsFor(pieces, flops);
  parallelFor(parts, [&](int p) {
    for (Index i = splitPoint(pieces, parts, p), e = splitPoint(pieces, parts, p + 1); i < e; ++i) piece(i, p);
  });
}

// fn(i0, i1) over [0, n) in contiguous pieces, one per thread (for dense elementwise passes).
template <typename Fn>
void forEachRange(Index n, Fn&& fn) {
  const int parts = threadsFor(n / 4096, 4.0 * n);
  parallelFor(parts, [&](int p) { fn(splitPoint(n, parts, p), splitPoint(n, parts, p + 1)); });
}

}  // namespace bnmf::cpu
