// The state of one fit, on the backend where it computes: X's working copy (or X read in place),
// W, H, the W-gradient state, the guard's snapshot, the best factors kept aside, the weights'
// copy and the batches' scratch. Pure C++ over the Backend interface (no Node): the binding
// (binding/fit.cpp) reads the spec, takes the device lock, and calls these from its jobs.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/backend.h"
#include "core/hals.h"
#include "core/solver.h"

namespace bnmf {

// What run()'s `order` permutes: nothing, the batches, or the rows (batches re-cut).
enum class Shuffle { None, Batches, Rows };

// A fit's state behind one type, whatever its dtype (the binding holds it so).
struct FitStateBase {
  virtual ~FitStateBase() = default;
};

template <typename T>
struct FitState final : FitStateBase {
  // `backend` computes where the fit lives; `doubles` is that device's double backend (the SAG
  // gain's reduction scratch); `acc` is the device's memory and copies (null for the CPU).
  FitState(Device device, Backend<T>& backend, Backend<double>& doubles, Accelerator* acc, Index N, Index F, Index K)
      : device(device), N(N), F(F), K(K), backend_(&backend), doubles_(&doubles), acc_(acc) {}

  Device device = Device::Cpu;
  Index N = 0, F = 0, K = 0;
  EpochSpec<T> spec;
  Shuffle shuffle = Shuffle::None;
  bool positive = false;  // X must be positive (β ≤ 0), not only nonnegative
  std::unique_ptr<Buffer<T>> x, w, h, gp, gn, snapW, snapH, snapGp, snapGn, bestW, bestH;
  std::unique_ptr<Buffer<T>> hPos, hNeg, xRows, hRows, wPos, wNeg, zeros, ones, lastStep;
  std::unique_ptr<Buffer<T>> m, mRows, fixedW;  // weights' copy, gathered weight rows, W's fixed columns
  std::vector<std::uint8_t> fixedFlags;         // K flags (fixedComponents), empty when none
  std::unique_ptr<Buffer<double>> sums;
  std::unique_ptr<Buffer<T>> halsGrams;  // solver 'hals': HᵀH and WᵀW (K×K each), on first use
  double sagGain = 0;  // the SAG gain (solver.h), 0 before the first averaged batch
  Index scratchRows = 0;
  std::shared_ptr<void> xOwner;  // a device X referenced rather than copied
  CMat<T> X;
  Mat<T> W, H, Gp, Gn;
  bool snapshotTaken = false;
  DataIssue issue;  // the scan of X (complete once `loaded` reaches N·F)
  Index loaded = 0;  // entries of X copied into its working copy so far

  Backend<T>& be() { return *backend_; }

  Mat<T> own(std::unique_ptr<Buffer<T>>& buf, Index rows, Index cols, bool populate = true) {
    buf = be().allocate(rows * cols, populate);
    return Mat<T>(buf->data(), rows, cols);
  }

  // ---- X ---------------------------------------------------------------------------------------

  // X read where it is (a device X, or a host X borrowed by a sync fit): only scanned.
  void readInPlace(CMat<T> x) {
    X = x;
    issue = be().scan(X, positive);
    loaded = N * F;
  }

  // The working copy, filled by loadFrom (`populate` false: each load maps its own pages).
  void allocateX(bool populate) { X = own(x, N, F, populate); }

  // Copies X's entries [loaded, end) of src (the caller's whole host X) into the working copy,
  // converting them to T and scanning them on the way.
  template <typename S>
  void loadFrom(const S* src, Index end) {
    end = std::max(loaded, std::min(end, N * F));
    T* dst = x->data();
    if (!acc_) {
      scanEntries(src + loaded, dst + loaded, end - loaded, loaded, positive, issue);
      loaded = end;
      return;
    }
    // A device fit: checked (and converted) on the host in bounded pieces, each then uploaded.
    constexpr Index kPiece = Index(1) << 20;
    std::vector<T> staging;
    while (loaded < end) {
      const Index n = std::min(kPiece, end - loaded);
      const void* host = src + loaded;
      if constexpr (std::is_same_v<S, T>) {
        scanEntries<T, S>(src + loaded, nullptr, n, loaded, positive, issue);
      } else {
        staging.resize(static_cast<std::size_t>(n));
        scanEntries(src + loaded, staging.data(), n, loaded, positive, issue);
        host = staging.data();
      }
      acc_->upload(dst + loaded, host, sizeof(T) * static_cast<std::size_t>(n));
      loaded += n;
    }
  }

  bool xLoaded() const { return loaded == N * F; }

  // ---- the weights and the factors ------------------------------------------------------------

  // The weights' own copy, in the fit's dtype: from device weights of that dtype…
  void copyWeights(CMat<T> device) {
    be().copy(device, own(m, N, F));
    spec.weights = CMat<T>(m->data(), N, F);
  }
  // …or from host weights of any dtype (converted on the host, uploaded for a device fit).
  template <typename S>
  void copyWeights(const S* host) {
    Mat<T> dst = own(m, N, F);
    std::vector<T> staging(acc_ ? static_cast<std::size_t>(N * F) : 0);
    T* to = acc_ ? staging.data() : dst.data;
    std::copy_n(host, N * F, to);
    if (acc_) acc_->upload(dst.data, to, sizeof(T) * static_cast<std::size_t>(N * F));
    spec.weights = CMat<T>(dst);
  }

  // W, H and the gradient state; W and H as given (empty: zero), the gradient state zero, and
  // W's fixed columns (fixedFlags) kept as given.
  void allocateFactors(CMat<T> W0, CMat<T> H0) {
    Backend<T>& b = be();
    W = own(w, F, K);
    H = own(h, N, K);
    Gp = own(gp, F, K);
    Gn = own(gn, F, K);
    if (!fixedFlags.empty()) {
      own(fixedW, F, K);
      spec.fixedColumns = fixedFlags.data();
      spec.fixedW = fixedW->data();
    }
    if (!W0.empty()) b.copy(W0, W);
    else b.zero(W);
    keepW();
    if (!H0.empty()) b.copy(H0, H);
    else b.zero(H);
    b.zero(Gp);
    b.zero(Gn);
    b.finish();
  }

  // W as it is now is what its fixed columns keep (fixedComponents; nothing when none).
  void keepW() {
    if (fixedW) be().copy(W, Mat<T>(fixedW->data(), F, K));
  }

  // Bytes this state holds for the collector's accounting: X's copy, the weights', W, H, the
  // gradient state and (later) the snapshot.
  std::int64_t heldBytes() const {
    return std::int64_t(sizeof(T)) * ((x ? N * F : 0) + (m ? N * F : 0) + 2 * (N * K + 2 * F * K));
  }

  // ---- the solver ----------------------------------------------------------------------------

  // Scratch for batches of up to `rows` rows (grown only when a larger batch is asked for).
  SliceScratch<T> scratch(Index rows, bool gathered) {
    if (rows > scratchRows || (gathered && !xRows)) {
      scratchRows = std::max(rows, scratchRows);
      hPos = be().allocate(scratchRows * K);
      hNeg = be().allocate(scratchRows * K);
      if (gathered || xRows) {
        xRows = be().allocate(scratchRows * F);
        hRows = be().allocate(scratchRows * K);
        if (m) mRows = be().allocate(scratchRows * F);
      }
    }
    SliceScratch<T> sc{hPos->data(), hNeg->data(), xRows ? xRows->data() : nullptr, hRows ? hRows->data() : nullptr};
    sc.mRows = mRows ? mRows->data() : nullptr;
    if (spec.averageTargets) {
      targetsState();
      sc.wPos = wPos->data(), sc.wNeg = wNeg->data(), sc.zeros = zeros->data(), sc.ones = ones->data();
      sc.lastStep = lastStep->data(), sc.gain = &sagGain, sc.sums = sums->data();
    }
    return sc;
  }

  // The buffers of averaged targets and the SAG gain (allocated once, on first use).
  void targetsState() {
    if (wPos) return;
    own(wPos, F, K), own(wNeg, F, K);
    be().zero(own(zeros, F, K));
    be().fill(own(ones, F, K), T(1));
    be().zero(own(lastStep, F, K));
    sums = doubles_->allocate(3);
  }

  // The average of the averaged batches' steps (the SAG gain's state; averageTargets only).
  Mat<T> sagStep() {
    targetsState();
    return Mat<T>(lastStep->data(), F, K);
  }

  // One slice of an epoch (`run`, with its overrides in `s`): X and H are the fit's or a cache
  // of rows (`cached`); `order` permutes the batches or the rows (empty: none); `snapshot`
  // copies the state aside first; `guard` rebalances the scales after. Returns false when W or
  // H is not finite (checked by the guard, or on W alone for a cache of rows).
  bool runSlice(EpochSpec<T> s, const std::vector<std::uint32_t>& order, bool takeSnapshot, bool guard, CMat<T> Xs,
                Mat<T> Hs, bool cached) {
    Backend<T>& b = be();
    if (takeSnapshot) snapshot();
    if (!order.empty()) {
      if (shuffle == Shuffle::Rows) s.rowOrder = order.data();
      else s.batchOrder = order.data();
    }
    const SliceScratch<T> sc = scratch(std::min(s.batchSize, Xs.rows), s.rowOrder != nullptr);
    if (s.solver == SolverKind::Hals) {
      if (!halsGrams) halsGrams = b.allocate(2 * K * K);
      runHalsSlice(b, Xs, W, Hs, Gp, Gn, Mat<T>(halsGrams->data(), K, K), Mat<T>(halsGrams->data() + K * K, K, K), s, sc);
    } else {
      runEpochSlice(b, Xs, W, Hs, Gp, Gn, s, sc);
    }
    const bool sag = s.solver == SolverKind::Asag || s.solver == SolverKind::Gsag;
    const double negExponent = sag && s.averageTargets ? 1.0 - 1.0 / s.gamma : 1.0;
    bool finite = true;
    if (guard) finite = rebalance(b, W, Hs, Gp, Gn, negExponent, s.fixedColumns);
    else if (cached) {
      std::vector<double> wMax(static_cast<std::size_t>(K));
      finite = b.columnMax(W, wMax.data());
    }
    b.finish();
    return finite;
  }

  // D(X | H·Wᵀ) plus the penalties (V clipped at the fit's vFloor).
  double cost() {
    const double value = objective<T>(be(), X, W, H, spec.beta, spec.vFloor, spec.weights, spec.penalty);
    be().finish();
    return value;
  }

  // ---- snapshots -------------------------------------------------------------------------------

  void snapshot() {
    Backend<T>& b = be();
    if (!snapW) {
      own(snapW, F, K), own(snapH, N, K), own(snapGp, F, K), own(snapGn, F, K);
    }
    b.copy(W, Mat<T>(snapW->data(), F, K));
    b.copy(H, Mat<T>(snapH->data(), N, K));
    b.copy(Gp, Mat<T>(snapGp->data(), F, K));
    b.copy(Gn, Mat<T>(snapGn->data(), F, K));
    snapshotTaken = true;
  }

  // The factors with the lowest cost so far (kept aside by the driver, brought back when a fit
  // ends on anything but convergence or maxIter).
  void saveBest() {
    if (!bestW) own(bestW, F, K), own(bestH, N, K);
    be().copy(W, Mat<T>(bestW->data(), F, K));
    be().copy(H, Mat<T>(bestH->data(), N, K));
    be().finish();
  }
  bool restoreBest() {
    if (!bestW) return false;
    be().copy(CMat<T>(bestW->data(), F, K), W);
    be().copy(CMat<T>(bestH->data(), N, K), H);
    be().finish();
    return true;
  }

  bool restore() {
    if (!snapshotTaken) return false;
    Backend<T>& b = be();
    b.copy(CMat<T>(snapW->data(), F, K), W);
    b.copy(CMat<T>(snapH->data(), N, K), H);
    b.copy(CMat<T>(snapGp->data(), F, K), Gp);
    b.copy(CMat<T>(snapGn->data(), F, K), Gn);
    b.finish();
    return true;
  }

 private:
  Backend<T>* backend_;
  Backend<double>* doubles_;
  Accelerator* acc_;
};

}  // namespace bnmf
