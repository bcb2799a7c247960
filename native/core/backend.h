// What a backend (CPU, CUDA) must provide: the fused passes of the seed's kernels, over
// row-major matrices with X N×F, W F×K, H N×K and V = H·Wᵀ. Each backend is free to fuse,
// block and parallelise as suits its hardware; the arithmetic of each entry comes from
// core/beta.h so every backend computes the same formulas.
#pragma once
#include <atomic>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/beta.h"
#include "core/matrix.h"

namespace bnmf {

// The outputs of a gradient pass: either both parts (pos, neg) or only their difference
// neg − pos (the seed's gradient_h / gradient_w), which needs one product instead of two.
// Each output receives scale·(parts) + keep·(its previous value), as in BLAS, so a solver can
// sum parts over batches (keep = 1) or keep a running average (scale = f, keep = 1 − f).
template <typename T>
struct Parts {
  Mat<T> pos;   // V^(β−1)·W (H) or (V^(β−1))ᵀ·H (W)
  Mat<T> neg;   // (V^(β−2)⊙X)·W or (V^(β−2)⊙X)ᵀ·H
  Mat<T> diff;  // neg − pos; when set, pos and neg are not written
  T scale = T(1);
  T keep = T(0);
  T vFloor = T(0);  // V is clipped to at least this before the powers (0: the seed's exact formulas)
  // Entry weights M (X's shape, rows aligned with X's; empty = unweighted): the parts become
  // (M⊙V^(β−1))·W, (M⊙V^(β−2)⊙X)·W and M⊙V^(β−2)⊙(X−V) (ᵀ·H for W). An entry of weight 0
  // contributes exactly 0, even where its unweighted part is infinite (V = 0).
  CMat<T> weights;
  bool differenceOnly() const { return !diff.empty(); }
  bool weighted() const { return !weights.empty(); }
};

// The guards of a multiplicative step (guardedStep in core/beta.h): the factor's values before
// the step (empty: no guard, the seed's plain step) and the least ratio a step may apply.
template <typename T>
struct StepGuard {
  CMat<T> prior;
  T floor = T(0);
  bool on() const { return !prior.empty(); }
};

// What a scan of data (X) found, in the fit's dtype: the first entry in row-major order that is
// not finite and nonnegative (positive when asked), whether any entry is positive, and the sum
// of all entries in double (the random initialisation's scale).
struct DataIssue {
  Index index = -1;  // row-major position of the first invalid entry, or -1
  double value = 0;  // that entry
  bool anyPositive = false;
  double sum = 0;
  bool allZero() const { return !anyPositive && index < 0; }
};

// The rule each entry of X must meet (host and device alike).
BNMF_HD bool validEntry(float v, bool positive) { return (positive ? v > 0.0f : v >= 0.0f) && v <= FLT_MAX; }
BNMF_HD bool validEntry(double v, bool positive) { return (positive ? v > 0.0 : v >= 0.0) && v <= DBL_MAX; }

// Scans src[0, count) — entries first… of the whole — into `issue`, which carries on from the
// entries before (so a scan in chunks equals one pass, sum included); with dst, src is also
// copied there converted to T in the same pass.
template <typename T, typename S>
void scanEntries(const S* src, T* dst, Index count, Index first, bool positive, DataIssue& issue) {
  bool anyPositive = issue.anyPositive;
  double sum = issue.sum;
  for (Index i = 0; i < count; ++i) {
    const T v = static_cast<T>(src[i]);
    if (dst) dst[i] = v;
    if (!validEntry(v, positive) && issue.index < 0) issue.index = first + i, issue.value = double(v);
    anyPositive |= v > T(0);
    sum += double(v);
  }
  issue.anyPositive = anyPositive;
  issue.sum = sum;
}

// ---- Memory and devices ----------------------------------------------------------------
// As in ggml: a device describes itself, owns allocations and the lock that serialises work
// on it; a backend (below) computes on that memory; a buffer is backend scratch.

// Where memory lives and work runs.
enum class Device { Cpu, Cuda };

inline const char* deviceName(Device d) { return d == Device::Cuda ? "cuda" : "cpu"; }

// What a device is and whether it can be used (devices() in JS).
struct DeviceInfo {
  bool compiled = false;   // this build has the backend
  bool available = false;  // and it can be used now
  std::string reason;      // why not, when not
  std::string name;
  std::size_t memoryBytes = 0;
  int major = 0, minor = 0;  // compute capability
  int driverVersion = 0, runtimeVersion = 0;
  std::string blasLibrary;  // the BLAS library opened at run time (cuBLAS)
};

// Bytes of device memory, freed when the last owner lets go.
class Allocation {
 public:
  virtual ~Allocation() = default;
  virtual void* data() const = 0;
  virtual std::size_t bytes() const = 0;
};

// A device with memory of its own (the CPU has none: its arrays are the caller's typed arrays).
class Accelerator {
 public:
  virtual ~Accelerator() = default;
  virtual DeviceInfo info() = 0;  // never throws
  // `bytes` of zeroed memory; ResourceError when the device cannot give them. Takes no lock.
  virtual std::shared_ptr<Allocation> allocateZeroed(std::size_t bytes) = 0;
  // Copies between host memory and an allocation; waits until done. Take no lock.
  virtual void upload(void* device, const void* host, std::size_t bytes) = 0;
  virtual void download(void* host, const void* device, std::size_t bytes) = 0;
  // Held by a job while it computes on the device, so jobs from several threads take turns.
  virtual std::unique_lock<std::mutex> lock() = 0;
};

// Device memory alive now, for tests (addon.deviceMemory()): allocations of any kind (JS
// device arrays, backend scratch, temporaries) and their bytes.
struct DeviceMemoryCounts {
  std::atomic<std::int64_t> allocations{0}, bytes{0};
};
inline DeviceMemoryCounts& deviceMemoryCounts() {
  static DeviceMemoryCounts counts;
  return counts;
}

// ---- Backends ------------------------------------------------------------------------------

// Backend buffers allocated and not yet freed, over all backends (tests check that fits,
// transforms, aborts and errors bring it back to its baseline).
inline std::atomic<long long>& liveBuffers() {
  static std::atomic<long long> count{0};
  return count;
}

// A backend-owned scratch array (host or device memory).
template <typename T>
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual T* data() = 0;
};

// ---- Backends ------------------------------------------------------------------------------

template <typename T>
class Backend {
 public:
  virtual ~Backend() = default;

  // Parts of the gradient for H (outputs N×K) and for W (outputs F×K).
  void hParts(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out) { partsH(X, W, H, beta, out, true); }
  void wParts(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out) { partsW(X, W, H, beta, out, true); }

  // Benchmark floor (`betanmf bench`): the products of hParts and wParts on these shapes with the
  // elementwise work left out, into h and w (the values are meaningless; only the time counts).
  void gemmFloor(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> h, Parts<T> w) {
    partsH(X, W, H, beta, h, false);
    partsW(X, W, H, beta, w, false);
  }

  // The passes behind hParts / wParts; `fused` false leaves the elementwise work out (gemmFloor).
  virtual void partsH(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) = 0;
  virtual void partsW(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) = 0;

  // C = scale·op(A)·op(B) + keep·C (BLAS's alpha and beta; op transposes when asked), on this
  // backend's memory. An empty inner dimension leaves keep·C.
  virtual void product(bool transA, bool transB, T scale, CMat<T> A, CMat<T> B, T keep, Mat<T> C) = 0;

  // D(X | H·Wᵀ) summed over all entries, accumulated in double (V clipped at vFloor first);
  // with weights (X's shape, or empty) Σ m·d(x | v), an entry of weight 0 counting 0.
  virtual double betaDivergence(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, T vFloor, CMat<T> weights = CMat<T>()) = 0;

  // pos += l1 + l2·factor (the gradient of l1·‖factor‖₁ + ½·l2·‖factor‖², added to a positive part).
  virtual void addPenalty(Mat<T> pos, CMat<T> factor, T l1, T l2) = 0;

  // Σ|a| and Σa² over A, accumulated in double in an order fixed by the shape.
  virtual void norms(CMat<T> A, double& l1, double& l2) = 0;

  // out = factor ⊙ (neg / (pos + eps))^gamma; out may be factor itself. With a guard (update
  // 'mm'), each entry then becomes guardedStep(out, prior, pos, neg, floor) (core/beta.h), prior
  // read before out is written (prior may be out itself).
  virtual void muUpdate(CMat<T> factor, CMat<T> pos, CMat<T> neg, T eps, double gamma, Mat<T> out,
                        StepGuard<T> guard = {}) = 0;

  // One sweep of HALS / coordinate descent (Cichocki & Phan 2009; scikit-learn's
  // _update_cdnmf_fast) over the rows of A (rows×K), each row on its own: for t = 0…K−1 in
  // order, g = −B[i,t] + Σ_r G[t,r]·A[i,r] (summed in r order, in T) and, where G[t,t] ≠ 0,
  // A[i,t] ← max(A[i,t] − g/G[t,t], 0). G is K×K (the Gram matrix of the other factor), B
  // rows×K (the data times the other factor). Rows are independent, so any split is exact.
  virtual void halsSweep(Mat<T> A, CMat<T> G, CMat<T> B) = 0;

  // dst row i = src row rows[i] (gather), or dst row rows[i] = src row i (scatter).
  virtual void gatherRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) = 0;
  virtual void scatterRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) = 0;

  // Scratch memory for `count` elements, where this backend computes. Host memory is mapped
  // up front (first-touch faults are slow), unless `populate` is false: then each page is mapped
  // when first written (a large copy filled in steps spreads that cost over the steps).
  virtual std::unique_ptr<Buffer<T>> allocate(Index count, bool populate = true) = 0;

  // out[j] = max over i of A[i, j] (host array of A.cols); false when A holds NaN or ±Inf.
  virtual bool columnMax(CMat<T> A, double* out) = 0;

  // Column j of A multiplied by factors[j] (host array), or divided by it.
  virtual void scaleColumns(Mat<T> A, const T* factors, bool divide) = 0;

  // Every entry of m = value (whatever its memory held before).
  virtual void fill(Mat<T> m, T value) = 0;
  void zero(Mat<T> m) { fill(m, T(0)); }

  // The scan of X (see DataIssue), where X lives: device data is checked there, not downloaded.
  virtual DataIssue scan(CMat<T> X, bool positive) = 0;

  // dst = src (same shape, this backend's memory).
  virtual void copy(CMat<T> src, Mat<T> dst) = 0;

  // Waits until the work queued so far is done, and reports any failure in it (a device
  // backend computes asynchronously; the CPU's work is done when its calls return).
  virtual void finish() {}

  // out = grad − oldPart + newPart; out may be any of the inputs.
  virtual void updateGrad(CMat<T> grad, CMat<T> oldPart, CMat<T> newPart, Mat<T> out) = 0;

  // avg ← (1 − f)·avg + f·part (blendStep), entrywise.
  virtual void blend(Mat<T> avg, CMat<T> part, T f) = 0;

  // How this W step agrees with the recent ones: step = relativeStep(pos, neg) entrywise (all
  // three dense, of one shape); out = {Σ step·last, Σ step², Σ last²} in double, summed in an
  // order fixed by the shape; then last ← blendStep(last, step, rate). sums: 3 doubles of the
  // caller's scratch where this backend computes.
  virtual void stepAgreement(CMat<T> pos, CMat<T> neg, T rate, Mat<T> last, double* sums, double out[3]) = 0;
};

// The seed's mu_update_h: the H parts, then H ⊙ neg / (pos + eps).
template <typename T>
void muUpdateH(Backend<T>& be, CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, T eps,
               Mat<T> Hout, Mat<T> pos, Mat<T> neg, CMat<T> weights = CMat<T>()) {
  Parts<T> parts;
  parts.pos = pos;
  parts.neg = neg;
  parts.weights = weights;
  be.hParts(X, W, H, beta, parts);
  be.muUpdate(H, pos, neg, eps, 1.0, Hout);
}

}  // namespace bnmf
