// One slice of an epoch of the original package's mini-batch solvers, over any backend.
// Rows are cut into contiguous batches of `batchSize`. An epoch visits the batches in the
// order `batchOrder` (the original's shuffling: a permutation of the batches, rows staying
// contiguous), or in row order; with `rowOrder` instead, the batches are re-cut each epoch
// from permuted rows (gathered into the scratch buffers, H scattered back). Positions
// [firstBatch, endBatch) of the epoch's sequence are processed, and the end-of-epoch W update
// happens when the slice reaches the last position. When X is only part of the epoch's rows
// (cacheRows: the rows resident on the device at once), startsEpoch / endsEpoch say whether
// its first position opens the epoch and whether its last one closes it. For each batch:
//   every solver   H_b ← H_b ⊙ (neg_H / (pos_H + eps))^γ on that batch
//   mu_batch       W parts summed over the epoch's batches; W updated once at the end
//                  (exactly full-batch MU, computed batch by batch)
//   asg / asag     W parts of this batch into the running average, then W updated
//   gsg / gsag     W parts of the epoch's first batch only into the average; W updated at the end
// The average is  avg ← f·(batch parts) + (1 − f)·avg,  f = 1/(sagMemory + 1) for the SAG
// variants (adaptive, at least that, with averaged targets: below) and 1 for the plain
// stochastic ones; it lives in gradPos / gradNeg between calls.
//
// Averaged targets (`averageTargets`, the SAG variants under update 'mm'): the original averages
// the parts and applies W ← W ⊙ (avg_neg / avg_pos)^γ, so a stale part, computed at an older W
// whose ratio has already been applied, is applied again to the new W: the average compounds
// old steps and overshoots (from a random start at β ≤ 1 it diverges). Instead, each batch's
// negative part is stored multiplied by W^(1/γ) at the time it was computed — where that batch
// wanted W to be — and W ← (avg(W^(1/γ) ⊙ neg) / (avg(pos) + eps))^γ: a pos-weighted average of
// the batches' targets (Lefèvre, Bach & Févotte's online IS-NMF, for any β). With f = 1 it is
// the plain update W ⊙ (neg / (pos + eps))^γ, so asg/gsg and mu_batch are unchanged.
//
// The gain f of a new batch (sagGain): with f fixed at 1/(sagMemory + 1), W follows the targets
// about sagMemory batches late; while W still travels (from a random start) that is SG with a
// step of f: up to 10× the plain solver's cost after 100 epochs. The average estimates where the
// batches want W, and should weigh a new batch heavily while W travels and lightly when the
// batches only scatter around a point. So f adapts as Kesten's step-size rule does: c is the
// correlation of this batch's step (relativeStep of its parts, entrywise) with the average of
// the earlier steps, weighted as the targets are (the direction the average has been moving);
// f ← clamp(f·e^c, 1/(sagMemory + 1), 1), from 1 at the first batch. Steps that keep agreeing
// (c > 0) mean the average lags: f grows towards the plain update. Noise gives c ≤ 0 (with a
// gain too large, successive innovations anticorrelate): f shrinks towards 1/(sagMemory + 1),
// the longest memory. At balance c = 0, the white innovations of a well-tuned tracking filter.
// Steps are invariant under the rebalance below.
//
// Entry weights (missing data) enter every part through Parts::weights. Penalties follow
// scikit-learn (our H is its W): the objective adds αH·F·(ρ‖H‖₁ + ½(1−ρ)‖H‖²) and
// αW·N·(ρ‖W‖₁ + ½(1−ρ)‖W‖²), whose gradients join the positive parts; a batch of n rows carries
// n/N of W's, so an epoch of batches sums to the full one and a SAG average holds it inside its
// parts. Fixed components: the flagged columns of W are put back to their given values after
// every W update (and rebalance leaves them alone).
//
// The guards of update 'mm' (`guarded`; guardedStep in core/beta.h). A multiplicative update
// never moves a zero, so a step must not make one the full data do not support:
//   0/0        where an entry's parts are both 0 the step has no information about it (a weighted
//              batch with no observed entry in that feature or row; a penalty that drove V to 0
//              with eps 0): the entry keeps its value, in every step (H, W, shards).
//   partial    a W step from part of the data (a batch of the stochastic solvers, gsg's first
//              batch, a SAG average of batches; not mu_batch, nor a batch holding every row) is an
//              MM step on that part's objective. A feature silent in the batch (X all 0 there)
//              has neg = 0, and the exact step zeroes its row of W for good although the other
//              batches need it. The step's ratio is kept at least `stepFloor` (½): a point between
//              W and the batch majoriser's minimiser still decreases that majoriser (it is
//              separable and unimodal in each entry), so it stays a descent step for the batch,
//              and a feature silent in one batch shrinks at most by half and recovers in the
//              next. Full-data steps stay exact (mu_batch equals scikit-learn, and asg with one
//              batch equals mu_batch).
// update 'heuristic' has no guards: the original's arithmetic, zeros included.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/backend.h"

namespace bnmf {

// The solvers, by the names the TypeScript layer uses (the one table both languages read).
enum class SolverKind { MuBatch, Asg, Gsg, Asag, Gsag, Hals };  // Hals: core/hals.h
struct SolverName {
  const char* name;
  SolverKind kind;
};
inline constexpr SolverName kSolvers[] = {{"mu_batch", SolverKind::MuBatch}, {"asg_mu", SolverKind::Asg},
                                          {"gsg_mu", SolverKind::Gsg},       {"asag_mu", SolverKind::Asag},
                                          {"gsag_mu", SolverKind::Gsag},     {"hals", SolverKind::Hals}};
inline bool solverByName(const char* name, SolverKind& out) {
  for (const SolverName& s : kSolvers)
    if (std::strcmp(s.name, name) == 0) return out = s.kind, true;
  return false;
}

// alphaW, alphaH and l1Ratio ρ of the penalties (see above).
struct Penalty {
  double alphaW = 0, alphaH = 0, l1Ratio = 0;
  bool any() const { return alphaW > 0 || alphaH > 0; }
};

template <typename T>
struct EpochSpec {
  SolverKind solver = SolverKind::MuBatch;
  Beta beta;
  T eps = T(1e-10);
  double gamma = 1.0;     // MU exponent
  T forget = T(1);        // f of the running average
  T vFloor = T(0);        // V clipped at this before the powers
  bool updateH = true;
  bool updateW = true;
  Index batchSize = 100;
  Index firstBatch = 0;
  Index endBatch = 0;                       // exclusive
  bool startsEpoch = true;                  // position 0 of X opens the epoch
  bool endsEpoch = true;                    // the last position of X closes the epoch
  const std::uint32_t* batchOrder = nullptr;  // permutation of the batches, or null
  const std::uint32_t* rowOrder = nullptr;    // permutation of the rows (re-cut batches), or null
  bool averageTargets = false;              // the SAG average of targets (see above)
  CMat<T> weights;                          // entry weights aligned with X's rows (empty: none)
  Penalty penalty;
  const std::uint8_t* fixedColumns = nullptr;  // K flags: W columns kept as in fixedW (F×K)
  const T* fixedW = nullptr;
  bool guarded = true;     // update 'mm': the guards above ('heuristic': none)
  T stepFloor = T(0.5);    // the least ratio of a partial W step under the guards
  bool partialData = false;  // X is part of the data (partialFit's chunk): every W step is partial
  int sweeps = 1;  // solver 'hals': sweeps per factor per epoch over the same products (core/hals.h)
};

// Scratch a slice needs, owned by the caller and reused across slices (nothing is allocated
// inside the epoch loop): the H parts of one batch, and the gathered X and H rows when
// batches are re-cut from permuted rows. Each holds at least batchSize rows.
template <typename T>
struct SliceScratch {
  T* hPos = nullptr;
  T* hNeg = nullptr;
  T* xRows = nullptr;
  T* hRows = nullptr;
  T* mRows = nullptr;  // gathered weight rows (weighted fits re-cut from permuted rows)
  // F×K each, for averaged targets: one batch's W parts, a matrix of zeros and one of ones.
  T* wPos = nullptr;
  T* wNeg = nullptr;
  T* zeros = nullptr;
  T* ones = nullptr;
  // The SAG gain's state, which outlives a slice: the average of the averaged batches' steps
  // (F×K), the gain (0 before the first batch), and 3 doubles of reduction scratch.
  T* lastStep = nullptr;
  double* gain = nullptr;
  double* sums = nullptr;
};

// The weight of a new batch in the average of targets (see the top of this file): 1 for the
// first batch, then f ← clamp(f·e^c, forget, 1), c the correlation of this batch's step with
// the average of the steps before it (kept in lastStep with the same weights as the targets).
template <typename T>
T sagGain(Backend<T>& be, CMat<T> pos, CMat<T> neg, T forget, const SliceScratch<T>& scratch) {
  double& g = *scratch.gain;
  double a[3];
  be.stepAgreement(pos, neg, g > 0 ? T(g) : T(1), Mat<T>(scratch.lastStep, pos.rows, pos.cols), scratch.sums, a);
  if (g <= 0) return T(g = 1);
  const double c = a[1] > 0 && a[2] > 0 ? a[0] / std::sqrt(a[1] * a[2]) : 0.0;
  g = std::clamp(g * std::exp(std::isfinite(c) ? c : 0.0), double(forget), 1.0);
  return T(g);
}

inline Index batchCount(Index rows, Index batchSize) { return (rows + batchSize - 1) / batchSize; }

// Puts the fixed columns of W back to their given values (runs of adjacent columns at once).
template <typename T>
void keepFixedColumns(Backend<T>& be, Mat<T> W, const EpochSpec<T>& s) {
  if (!s.fixedColumns) return;
  const Index F = W.rows, K = W.cols;
  for (Index k = 0; k < K;) {
    if (!s.fixedColumns[k]) {
      ++k;
      continue;
    }
    Index e = k;
    while (e < K && s.fixedColumns[e]) ++e;
    be.copy(CMat<T>(s.fixedW + k, F, e - k, K), Mat<T>(W.data + k, F, e - k, W.ld));
    k = e;
  }
}

// The guard of a step on `factor` (see the top of this file): none without `guarded`; the
// floor only for a W step from part of the data.
template <typename T>
StepGuard<T> guardOf(const EpochSpec<T>& s, CMat<T> factor, bool partial) {
  StepGuard<T> g;
  if (s.guarded) g.prior = factor, g.floor = partial ? s.stepFloor : T(0);
  return g;
}

// The W step from parts summed over an epoch or averaged: W ← W ⊙ (neg / (pos + eps))^γ, or
// under averaged targets (neg holding the targets W^(1/γ) ⊙ neg) W ← (neg / (pos + eps))^γ,
// guarded (`partial`: parts from part of the data); then W's fixed columns are put back.
template <typename T>
void stepW(Backend<T>& be, Mat<T> W, CMat<T> pos, CMat<T> neg, const EpochSpec<T>& s, const SliceScratch<T>& scratch,
           bool targets, bool partial) {
  const CMat<T> factor = targets ? CMat<T>(scratch.ones, W.rows, W.cols) : CMat<T>(W);
  be.muUpdate(factor, pos, neg, s.eps, s.gamma, W, guardOf(s, CMat<T>(W), partial));
  keepFixedColumns(be, W, s);
}

// One batch's W parts into the SAG average of targets (avgPos, avgNeg) with the adaptive gain;
// neg becomes the batch's target, neg ⊙ W^(1/γ) (where that batch wanted W to be).
template <typename T>
void blendTarget(Backend<T>& be, CMat<T> W, CMat<T> pos, Mat<T> neg, Mat<T> avgPos, Mat<T> avgNeg, const EpochSpec<T>& s,
                 const SliceScratch<T>& scratch) {
  const T f = sagGain(be, pos, CMat<T>(neg), s.forget, scratch);
  be.muUpdate(neg, CMat<T>(scratch.zeros, W.rows, W.cols), W, T(1), 1.0 / s.gamma, neg);
  be.blend(avgPos, pos, f);
  be.blend(avgNeg, neg, f);
}

// The penalties' part of the objective for factors W (F×K) and H (N×K) of N×F data.
template <typename T>
double penaltyCost(Backend<T>& be, CMat<T> W, CMat<T> H, Index N, Index F, const Penalty& p) {
  double total = 0.0, l1 = 0.0, l2 = 0.0;
  if (p.alphaH > 0) {
    be.norms(H, l1, l2);
    total += p.alphaH * double(F) * (p.l1Ratio * l1 + 0.5 * (1.0 - p.l1Ratio) * l2);
  }
  if (p.alphaW > 0) {
    be.norms(W, l1, l2);
    total += p.alphaW * double(N) * (p.l1Ratio * l1 + 0.5 * (1.0 - p.l1Ratio) * l2);
  }
  return total;
}

// The fit's objective: the (weighted) divergence plus the penalties.
template <typename T>
double objective(Backend<T>& be, CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, T vFloor, CMat<T> weights,
                 const Penalty& p) {
  const double d = be.betaDivergence(X, W, H, beta, vFloor, weights);
  return p.any() ? d + penaltyCost<T>(be, W, H, X.rows, X.cols, p) : d;
}

template <typename T>
void runEpochSlice(Backend<T>& be, CMat<T> X, Mat<T> W, Mat<T> H, Mat<T> gradPos, Mat<T> gradNeg,
                   const EpochSpec<T>& s, const SliceScratch<T>& scratch) {
  const Index N = X.rows, F = X.cols, K = W.cols, bs = s.batchSize;
  const Index nBatches = batchCount(N, bs);
  const bool gathered = s.rowOrder != nullptr;
  const bool perBatchW = s.solver == SolverKind::Asg || s.solver == SolverKind::Asag;
  const bool firstBatchW = s.solver == SolverKind::Gsg || s.solver == SolverKind::Gsag;
  const bool targets = s.averageTargets && (s.solver == SolverKind::Asag || s.solver == SolverKind::Gsag);
  const bool weighted = !s.weights.empty();
  // A batch holding every row of the data (one batch, X neither a cache of some rows nor a
  // partialFit chunk) steps on the full data: exact; any other W step of a stochastic solver is
  // partial, and so is mu_batch's on a chunk.
  const bool partial = s.partialData || !(nBatches == 1 && s.startsEpoch && s.endsEpoch);
  const double rho = s.penalty.l1Ratio;
  const T hL1 = T(s.penalty.alphaH * double(F) * rho), hL2 = T(s.penalty.alphaH * double(F) * (1.0 - rho));
  // W's penalty on a batch of n rows, into parts scaled by `scale` (n/N of the epoch's).
  auto penaliseW = [&](Mat<T> pos, T scale, Index n) {
    if (s.penalty.alphaW > 0)
      be.addPenalty(pos, W, T(scale * s.penalty.alphaW * double(n) * rho), T(scale * s.penalty.alphaW * double(n) * (1.0 - rho)));
  };

  for (Index pos = s.firstBatch; pos < s.endBatch && pos < nBatches; ++pos) {
    const Index b = s.batchOrder ? Index(s.batchOrder[pos]) : pos;
    const Index r0 = b * bs, n = std::min(bs, N - r0);
    CMat<T> Xb = X.rowBlock(r0, r0 + n);
    Mat<T> Hb = H.rowBlock(r0, r0 + n);
    CMat<T> Mb = weighted ? s.weights.rowBlock(r0, r0 + n) : CMat<T>();
    const std::uint32_t* rows = gathered ? s.rowOrder + r0 : nullptr;
    if (gathered) {
      Mat<T> xg(scratch.xRows, n, F), hg(scratch.hRows, n, K);
      be.gatherRows(X, rows, xg);
      be.gatherRows(H, rows, hg);
      Xb = xg;
      Hb = hg;
      if (weighted) {
        Mat<T> mg(scratch.mRows, n, F);
        be.gatherRows(s.weights, rows, mg);
        Mb = mg;
      }
    }
    if (s.updateH) {
      Parts<T> hp;
      hp.pos = Mat<T>(scratch.hPos, n, K);
      hp.neg = Mat<T>(scratch.hNeg, n, K);
      hp.vFloor = s.vFloor;
      hp.weights = Mb;
      be.hParts(Xb, W, Hb, s.beta, hp);
      if (s.penalty.alphaH > 0) be.addPenalty(hp.pos, Hb, hL1, hL2);
      be.muUpdate(Hb, hp.pos, hp.neg, s.eps, s.gamma, Hb, guardOf(s, CMat<T>(Hb), false));
      if (gathered) be.scatterRows(Hb, rows, H);
    }
    if (!s.updateW) continue;
    const bool first = pos == 0 && s.startsEpoch;
    Parts<T> wp;
    wp.pos = gradPos;
    wp.neg = gradNeg;
    wp.vFloor = s.vFloor;
    wp.weights = Mb;
    if (s.solver == SolverKind::MuBatch) {
      wp.keep = first ? T(0) : T(1);  // the epoch's sum starts afresh
      be.wParts(Xb, W, Hb, s.beta, wp);
      penaliseW(gradPos, T(1), n);
    } else if ((perBatchW || (firstBatchW && first)) && targets) {
      Mat<T> bPos(scratch.wPos, F, K), bNeg(scratch.wNeg, F, K);
      wp.pos = bPos;
      wp.neg = bNeg;
      be.wParts(Xb, W, Hb, s.beta, wp);
      penaliseW(bPos, T(1), n);
      blendTarget<T>(be, W, bPos, bNeg, gradPos, gradNeg, s, scratch);
      if (perBatchW) stepW<T>(be, W, gradPos, gradNeg, s, scratch, true, partial);
    } else if (perBatchW || (firstBatchW && first)) {
      wp.scale = s.forget;
      wp.keep = T(1) - s.forget;
      be.wParts(Xb, W, Hb, s.beta, wp);
      penaliseW(gradPos, s.forget, n);
      if (perBatchW) stepW<T>(be, W, gradPos, gradNeg, s, scratch, false, partial);
    }
  }
  const bool epochEnds = s.endsEpoch && s.endBatch >= nBatches;
  if (s.updateW && epochEnds && !perBatchW && N > 0)
    stepW<T>(be, W, gradPos, gradNeg, s, scratch, targets, s.partialData || (partial && s.solver != SolverKind::MuBatch));
}

// ---- a sharded fit's W step -----------------------------------------------------------------
// The coordinator of a sharded fit (lib/queue/shards.ts) makes the next W from what the shards
// send with the steps above, so one process and many run one solver:
//   mu_batch, gsg   the shards' parts summed in shard order, then stepW: for mu_batch exactly
//                   full-batch MU; for gsg the epoch's first batch (shard 0's parts)
//   gsag            those parts into the SAG average (avgPos, avgNeg) first: with the adaptive
//                   gain and the targets under averageTargets (blendTarget), else at `forget`
//   asg, asag       the shards' own W after a local epoch, weighted by `share` (their rows / N)
//                   and summed in shard order (local SGD, averaged once per epoch)
// parts[s] holds pos then neg (F×K each), or shard s's W (asg/asag), or nothing (a shard
// without the epoch's first batch). Sums and scalings use the backend's running-sum step
// (g − 0 + part) and blend (from zeros: f·part), which are exact there, so the sums are those
// of a plain loop in shard order. scratch: wPos, wNeg, zeros; ones, lastStep, gain and sums
// under averaged targets.
template <typename T>
void combineShards(Backend<T>& be, Mat<T> W, const std::vector<CMat<T>>& parts, const std::vector<double>& share,
                   Mat<T> avgPos, Mat<T> avgNeg, const EpochSpec<T>& s, const SliceScratch<T>& scratch) {
  const Index F = W.rows, K = W.cols;
  Mat<T> sumPos(scratch.wPos, F, K), sumNeg(scratch.wNeg, F, K);
  const CMat<T> zeros(scratch.zeros, F, K);
  be.zero(sumPos);
  if (s.solver == SolverKind::Asg || s.solver == SolverKind::Asag) {
    Mat<T> term = sumNeg;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      be.zero(term);
      be.blend(term, parts[i], T(share[i]));  // share·W_s
      be.updateGrad(sumPos, zeros, term, sumPos);
    }
    be.copy(sumPos, W);
    return;
  }
  be.zero(sumNeg);
  for (const CMat<T>& p : parts) {
    if (p.empty()) continue;
    be.updateGrad(sumPos, zeros, CMat<T>(p.data, F, K), sumPos);
    be.updateGrad(sumNeg, zeros, CMat<T>(p.data + F * K, F, K), sumNeg);
  }
  // gsg and gsag step from the epoch's first batch (part of the data), mu_batch from all of it.
  const bool partial = s.solver != SolverKind::MuBatch;
  if (s.solver != SolverKind::Gsag) return stepW<T>(be, W, sumPos, sumNeg, s, scratch, false, partial);
  if (s.averageTargets) {
    blendTarget<T>(be, W, sumPos, sumNeg, avgPos, avgNeg, s, scratch);
  } else {
    be.blend(avgPos, sumPos, s.forget);
    be.blend(avgNeg, sumNeg, s.forget);
  }
  stepW<T>(be, W, avgPos, avgNeg, s, scratch, s.averageTargets, partial);
}

// X ≈ H·Wᵀ does not change when column k of W is divided by c and column k of H multiplied by
// c, and neither do the multiplicative updates (both parts of each ratio scale alike; the
// W-gradient sums and averages are linear in H's columns, so they are scaled too). The
// stochastic solvers can drift along this direction until W or H overflows; rebalance pulls
// the columns back to equal scale whenever they are more than kMaxScaleRatio apart, which
// never happens in a well-scaled run, so it does not alter those (penalties are not invariant
// under this rescaling, which is one more reason it only acts that far out). Returns false when W or H
// holds a non-finite value (the solver diverged).
constexpr double kMaxScaleRatio = 1e6;

// negExponent: gradNeg scales by c^negExponent (1 for parts; 1 − 1/γ for averaged targets,
// which hold W^(1/γ) ⊙ neg).
// Columns flagged in `fixed` (fixed components, K flags or null) are never rescaled.
template <typename T>
bool rebalance(Backend<T>& be, Mat<T> W, Mat<T> H, Mat<T> gradPos, Mat<T> gradNeg, double negExponent = 1.0,
               const std::uint8_t* fixed = nullptr) {
  const Index K = W.cols;
  std::vector<double> w(static_cast<std::size_t>(K)), h(static_cast<std::size_t>(K));
  if (!be.columnMax(W, w.data()) || !be.columnMax(H, h.data())) return false;
  std::vector<T> c(static_cast<std::size_t>(K), T(1));
  bool any = false;
  for (Index k = 0; k < K; ++k) {
    if (!(w[k] > 0 && h[k] > 0) || (fixed && fixed[k])) continue;
    const double ratio = w[k] / h[k];
    if (ratio > kMaxScaleRatio || ratio < 1 / kMaxScaleRatio) {
      c[k] = static_cast<T>(std::sqrt(ratio));
      any = true;
    }
  }
  if (!any) return true;
  be.scaleColumns(W, c.data(), true);
  be.scaleColumns(H, c.data(), false);
  be.scaleColumns(gradPos, c.data(), false);
  if (negExponent != 1.0)
    for (T& x : c) x = static_cast<T>(std::pow(double(x), negExponent));
  be.scaleColumns(gradNeg, c.data(), false);
  return true;
}

}  // namespace bnmf
