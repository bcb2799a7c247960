// HALS for β = 2 (solver 'hals'): hierarchical alternating least squares, i.e. exact
// coordinate descent on the columns of each factor (Cichocki & Phan 2009), as scikit-learn's
// NMF(solver='cd') runs it (_update_coordinate_descent / _update_cdnmf_fast, shuffle=False).
// One epoch, in scikit-learn's order (our H is its W, our W its Hᵀ):
//   H   with G = WᵀW (+ l2_H on the diagonal) and B = X·W (− l1_H), one sweep per row of H;
//       row-independent, so it runs batch by batch over X's rows with W as the epoch began
//   W   with G = HᵀH (+ l2_W) and B = XᵀH (− l1_W), both summed over the batches with the new
//       H, one sweep per row of W at the end of the epoch
// With `sweeps` > 1 (accelerate: true), each factor is swept that many times over the same
// products (Gillis & Glineur 2012: a sweep costs N·K², the products 2·N·F·K, so repeating the
// cheap part while X·W and WᵀW are at hand buys progress per epoch; measured in
// docs/performance.md). Each coordinate step minimises the penalised objective exactly in that
// coordinate, so the objective never increases. Penalties as the MU solvers have them (scikit-learn's alpha_W,
// alpha_H, l1_ratio; see solver.h): l1_H = αH·F·ρ, l2_H = αH·F·(1−ρ), and W's per batch of n
// rows αW·n·ρ and αW·n·(1−ρ) (an epoch sums to N). Fixed components: their diagonal entry of
// HᵀH is set to 0, which the sweep reads as "leave this column", while the other columns still
// see them through G's off-diagonal entries. Where it differs from scikit-learn: products are
// our blocked GEMMs (rounding), and with several batches W's penalty is added per batch.
#pragma once
#include <algorithm>

#include "core/backend.h"
#include "core/solver.h"

namespace bnmf {

// The diagonal of a K×K matrix as a K×1 view.
template <typename T>
Mat<T> diagonal(Mat<T> G) {
  return Mat<T>(G.data, G.rows, 1, G.ld + 1);
}

// m += c entrywise, through addPenalty (m += c + 0·m).
template <typename T>
void addConstant(Backend<T>& be, Mat<T> m, T c) {
  if (c != T(0)) be.addPenalty(m, CMat<T>(m), c, T(0));
}

// One slice [firstBatch, endBatch) of a HALS epoch over X's rows (X and H may be a cache of
// rows: startsEpoch / endsEpoch as in runEpochSlice). xtH (F×K) and hth (K×K) carry XᵀH and HᵀH
// across the slices of an epoch; gramW (K×K) and wPos (F×K) are scratch; scratch.hNeg holds a
// batch's X·W. X·W and XᵀH come from the backend's β = 2 passes (hParts / wParts: parallel in
// fixed blocks), whose other output (H·WᵀW, W·HᵀH: a K/F share of the work) goes unused.
template <typename T>
void runHalsSlice(Backend<T>& be, CMat<T> X, Mat<T> W, Mat<T> H, Mat<T> wPos, Mat<T> xtH, Mat<T> hth, Mat<T> gramW,
                  const EpochSpec<T>& s, const SliceScratch<T>& scratch) {
  const Index N = X.rows, F = X.cols, K = W.cols, bs = s.batchSize;
  const Index nBatches = batchCount(N, bs);
  const double rho = s.penalty.l1Ratio;
  if (s.updateH) {
    be.product(true, false, T(1), W, W, T(0), gramW);
    addConstant<T>(be, diagonal(gramW), T(s.penalty.alphaH * double(F) * (1.0 - rho)));
  }
  for (Index pos = s.firstBatch; pos < s.endBatch && pos < nBatches; ++pos) {
    const Index r0 = pos * bs, n = std::min(bs, N - r0);
    CMat<T> Xb = X.rowBlock(r0, r0 + n);
    Mat<T> Hb = H.rowBlock(r0, r0 + n);
    if (s.updateH) {
      Mat<T> B(scratch.hNeg, n, K);
      Parts<T> hp;
      hp.pos = Mat<T>(scratch.hPos, n, K);
      hp.neg = B;
      be.hParts(Xb, W, Hb, s.beta, hp);
      addConstant<T>(be, B, T(-s.penalty.alphaH * double(F) * rho));
      for (int r = 0; r < s.sweeps; ++r) be.halsSweep(Hb, gramW, B);
    }
    if (!s.updateW) continue;
    const T keep = pos == 0 && s.startsEpoch ? T(0) : T(1);  // the epoch's sums start afresh
    Parts<T> wp;
    wp.pos = wPos;
    wp.neg = xtH;
    wp.keep = keep;
    be.wParts(Xb, W, Hb, s.beta, wp);
    be.product(true, false, T(1), Hb, Hb, keep, hth);
    addConstant<T>(be, xtH, T(-s.penalty.alphaW * double(n) * rho));
    addConstant<T>(be, diagonal(hth), T(s.penalty.alphaW * double(n) * (1.0 - rho)));
  }
  const bool epochEnds = s.endsEpoch && s.endBatch >= nBatches;
  if (!s.updateW || !epochEnds || N == 0) return;
  if (s.fixedColumns)
    for (Index k = 0; k < K; ++k)
      if (s.fixedColumns[k]) be.fill(Mat<T>(hth.data + k * (hth.ld + 1), 1, 1, hth.ld), T(0));
  for (int r = 0; r < s.sweeps; ++r) be.halsSweep(W, hth, xtH);
}

}  // namespace bnmf
