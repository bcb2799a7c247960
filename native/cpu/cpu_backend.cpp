// The CPU backend: the passes of core/backend.h as GEMMs on row blocks (cpu/blas.h) with the
// elementwise loops between them (cpu/loops.h), cut into blocks by cpu/blocking.h's rules.
#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/blas.h"
#include "cpu/blocking.h"
#include "cpu/loops.h"
#include "cpu/parallel.h"
#include "cpu/workspace.h"

namespace bnmf::cpu {
namespace {

// m ← keep·m (keep = 0 overwrites whatever was there, NaN included).
template <typename T>
void scaleInPlace(Mat<T> m, T keep) {
  for (Index i = 0; i < m.rows; ++i) {
    T* r = m.row(i);
    for (Index j = 0; j < m.cols; ++j) r[j] = keep == T(0) ? T(0) : keep * r[j];
  }
}

// Every row of `out` ← scale·row + keep·(that row) (the β=1 pos part: 1·W is the column
// sums of W, broadcast).
template <typename T>
void broadcastRow(const T* row, T scale, T keep, Mat<T> out) {
  for (Index i = 0; i < out.rows; ++i) {
    T* o = out.row(i);
    for (Index j = 0; j < out.cols; ++j) o[j] = scale * row[j] + (keep == T(0) ? T(0) : keep * o[j]);
  }
}

// Column sums of A (rows×cols) into sums (cols), accumulated in T as a GEMM would.
template <typename T>
void columnSums(CMat<T> A, T* sums) {
  std::fill(sums, sums + A.cols, T(0));
  for (Index i = 0; i < A.rows; ++i) {
    const T* a = A.row(i);
    for (Index j = 0; j < A.cols; ++j) sums[j] += a[j];
  }
}

// G = AᵀA (cols×cols), in fixed slices of 32 columns of G.
template <typename T>
void gram(CMat<T> A, Mat<T> G) {
  const Index K = A.cols, slices = (K + 31) / 32;
  forEachPiece(slices, 2.0 * A.rows * K * K, [&](Index s, int) {
    const Index k0 = s * 32, k1 = std::min(K, k0 + 32);
    gemm<T>(true, false, T(1), A, CMat<T>(A.data + k0, A.rows, k1 - k0, A.ld), T(0), Mat<T>(G.data + k0, K, k1 - k0, G.ld));
  });
}

// Host memory for a backend buffer (uninitialised), counted while it lives. Large ones come
// from the OS and go back to it when freed (glibc would keep them in its heap: see pageAlloc).
template <typename T>
class HostBuffer final : public Buffer<T> {
 public:
  explicit HostBuffer(Index n, bool populate) : bytes_(static_cast<std::size_t>(std::max<Index>(n, 0)) * sizeof(T)) {
    if (bytes_ >= kPaged) v_ = static_cast<T*>(pageAlloc(bytes_, populate));
    else if (n > 0) v_ = new T[static_cast<std::size_t>(n)];
    ++liveBuffers();
  }
  ~HostBuffer() override {
    if (bytes_ >= kPaged) pageFree(v_, bytes_);
    else delete[] v_;
    --liveBuffers();
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  T* data() override { return v_; }

 private:
  static constexpr std::size_t kPaged = std::size_t(1) << 20;
  std::size_t bytes_;
  T* v_ = nullptr;
};

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  void partsH(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) override {
    const Index N = X.rows, F = X.cols, K = W.cols;
    if (N == 0 || K == 0) return;
    // Weighted β=2 forms V (M⊙V has no Gram form); it takes the general pass with t = 1.
    const bool weighted = out.weighted();
    if (beta.kind == BetaKind::Two && !weighted) return hPartsEuclidean(X, W, H, out);

    const bool diff = out.differenceOnly();
    // β=1's pos part is 1·W (column sums), or M·W weighted: a product of the weight block.
    const bool needPos = !diff && beta.kind != BetaKind::One;
    const Index rb = rowBlocks<T>(N, F);
    const Index nBlocks = (N + rb - 1) / rb;
    const int parts = threadsFor(nBlocks, 6.0 * N * F * K);

    const std::size_t buf = Arena::roundUp(rb * F * sizeof(T));
    Arena arena(parts * buf * (needPos ? 2 : 1) + Arena::roundUp(K * sizeof(T)));
    T* colSumW = arena.take<T>(K);
    if (!diff && beta.kind == BetaKind::One && !weighted) columnSums(W, colSumW);
    std::vector<T*> bufA(parts), bufB(parts, nullptr);
    for (int p = 0; p < parts; ++p) {
      bufA[p] = arena.take<T>(rb * F);
      if (needPos) bufB[p] = arena.take<T>(rb * F);
    }

    parallelFor(parts, [&](int p) {
      const Index b0 = splitPoint(nBlocks, parts, p), b1 = splitPoint(nBlocks, parts, p + 1);
      for (Index blk = b0; blk < b1; ++blk) {
        const Index r0 = blk * rb, r1 = std::min(N, r0 + rb), n = r1 - r0;
        Mat<T> A(bufA[p], n, F), B(bufB[p], n, F);
        gemm<T>(false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);  // V_b = H_b·Wᵀ
        if (!fused) B = A;
        else loops<T>().parts(beta, diff, needPos, out.vFloor, X.rowBlock(r0, r1), A, B);
        if (fused && weighted) loops<T>().weigh(out.weights.rowBlock(r0, r1), A, needPos ? B : Mat<T>());
        if (diff) {
          gemm<T>(false, false, out.scale, A, W, out.keep, out.diff.rowBlock(r0, r1));
          continue;
        }
        gemm<T>(false, false, out.scale, A, W, out.keep, out.neg.rowBlock(r0, r1));
        if (needPos) gemm<T>(false, false, out.scale, B, W, out.keep, out.pos.rowBlock(r0, r1));
        else if (weighted) gemm<T>(false, false, out.scale, out.weights.rowBlock(r0, r1), W, out.keep, out.pos.rowBlock(r0, r1));
        else broadcastRow<T>(colSumW, out.scale, out.keep, out.pos.rowBlock(r0, r1));
      }
    });
  }

  void partsW(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) override {
    const Index N = X.rows, F = X.cols, K = W.cols;
    if (F == 0 || K == 0) return;
    if (N == 0) {  // sums over no rows
      for (Mat<T> m : {out.pos, out.neg, out.diff})
        if (!m.empty()) scaleInPlace<T>(m, out.keep);
      return;
    }
    const bool weighted = out.weighted();
    if (beta.kind == BetaKind::Two && !weighted) return wPartsEuclidean(X, W, H, out);

    const bool diff = out.differenceOnly();
    const bool needPos = !diff && beta.kind != BetaKind::One;
    const bool weightPos = !diff && beta.kind == BetaKind::One && weighted;  // β=1: Mᵀ·H
    // Parallel over fixed slices of F: each slice owns rows of the result, so there is no
    // reduction, and the slices do not depend on the thread count.
    const Index slices = columnSlices(F), sliceMax = (F + slices - 1) / slices;
    const int parts = threadsFor(slices, 6.0 * N * F * K);
    const Index rb = std::min(blockRows<T>(sliceMax), N);  // scratch never larger than the pass

    const std::size_t buf = Arena::roundUp(rb * sliceMax * sizeof(T));
    Arena arena(parts * buf * (needPos ? 2 : 1) + Arena::roundUp(K * sizeof(T)));
    T* colSumH = arena.take<T>(K);
    if (!diff && beta.kind == BetaKind::One && !weighted) {
      columnSums(H, colSumH);
      broadcastRow<T>(colSumH, out.scale, out.keep, out.pos);
    }
    std::vector<T*> bufA(parts), bufB(parts, nullptr);
    for (int p = 0; p < parts; ++p) {
      bufA[p] = arena.take<T>(rb * sliceMax);
      if (needPos) bufB[p] = arena.take<T>(rb * sliceMax);
    }

    forEachPiece(slices, 6.0 * N * F * K, [&](Index sl, int p) {
      const Index f0 = splitPoint(F, slices, sl), f1 = splitPoint(F, slices, sl + 1), nf = f1 - f0;
      if (nf == 0) return;
      CMat<T> Ws = W.rowBlock(f0, f1);
      CMat<T> Xs(X.data + f0, N, nf, X.ld);
      Mat<T> target = diff ? out.diff.rowBlock(f0, f1) : out.neg.rowBlock(f0, f1);
      CMat<T> Ms = weighted ? CMat<T>(out.weights.data + f0, N, nf, out.weights.ld) : CMat<T>();
      Mat<T> posTarget = needPos || weightPos ? out.pos.rowBlock(f0, f1) : Mat<T>();
      for (Index r0 = 0; r0 < N; r0 += rb) {
        const Index r1 = std::min(N, r0 + rb), n = r1 - r0;
        const T keep = r0 == 0 ? out.keep : T(1);  // the first block applies keep, later ones add
        Mat<T> A(bufA[p], n, nf), B(bufB[p], n, nf);
        CMat<T> Hb = H.rowBlock(r0, r1);
        gemm<T>(false, true, T(1), Hb, Ws, T(0), A);  // V_b restricted to this slice of F
        if (!fused) B = A;
        else loops<T>().parts(beta, diff, needPos, out.vFloor, Xs.rowBlock(r0, r1), A, B);
        if (fused && weighted) loops<T>().weigh(Ms.rowBlock(r0, r1), A, needPos ? B : Mat<T>());
        gemm<T>(true, false, out.scale, A, Hb, keep, target);
        if (needPos) gemm<T>(true, false, out.scale, B, Hb, keep, posTarget);
        else if (weightPos) gemm<T>(true, false, out.scale, Ms.rowBlock(r0, r1), Hb, keep, posTarget);
      }
    });
  }

  void product(bool transA, bool transB, T scale, CMat<T> A, CMat<T> B, T keep, Mat<T> C) override {
    gemm<T>(transA, transB, scale, A, B, keep, C);
  }

  double betaDivergence(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, T vFloor, CMat<T> weights) override {
    const Index N = X.rows, F = X.cols;
    if (N == 0 || F == 0) return 0.0;
    const Index rb = rowBlocks<T>(N, F);
    const Index nBlocks = (N + rb - 1) / rb;
    const int parts = threadsFor(nBlocks, 2.0 * N * F * (W.cols + 10));
    Arena arena(parts * Arena::roundUp(rb * F * sizeof(T)) + Arena::roundUp(nBlocks * sizeof(double)));
    std::vector<T*> bufA(parts);
    for (int p = 0; p < parts; ++p) bufA[p] = arena.take<T>(rb * F);
    double* blockSums = arena.take<double>(nBlocks);

    parallelFor(parts, [&](int p) {
      const Index b0 = splitPoint(nBlocks, parts, p), b1 = splitPoint(nBlocks, parts, p + 1);
      for (Index blk = b0; blk < b1; ++blk) {
        const Index r0 = blk * rb, r1 = std::min(N, r0 + rb);
        Mat<T> A(bufA[p], r1 - r0, F);
        gemm<T>(false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);  // V_b, then its terms while in cache
        blockSums[blk] = loops<T>().divergence(beta, vFloor, X.rowBlock(r0, r1), A,
                                               weights.empty() ? CMat<T>() : weights.rowBlock(r0, r1));
      }
    });
    // Summed in block order, so the result does not depend on the thread count.
    double total = 0.0;
    for (Index b = 0; b < nBlocks; ++b) total += blockSums[b];
    return total;
  }

  void addPenalty(Mat<T> pos, CMat<T> factor, T l1, T l2) override {
    for (Index i = 0; i < pos.rows; ++i) {
      T* p = pos.row(i);
      const T* f = factor.row(i);
      for (Index j = 0; j < pos.cols; ++j) p[j] += l1 + l2 * f[j];
    }
  }

  void norms(CMat<T> A, double& l1, double& l2) override {
    l1 = l2 = 0.0;
    for (Index i = 0; i < A.rows; ++i) {
      const T* a = A.row(i);
      double r1 = 0.0, r2 = 0.0;
      for (Index j = 0; j < A.cols; ++j) {
        const double v = double(a[j]);
        r1 += std::fabs(v);
        r2 += v * v;
      }
      l1 += r1;
      l2 += r2;
    }
  }

  void muUpdate(CMat<T> factor, CMat<T> pos, CMat<T> neg, T eps, double gamma, Mat<T> out, StepGuard<T> guard = {}) override {
    forEachRange(out.size(), [&](Index i0, Index i1) {
      if (!guard.on()) return loops<T>().step(gamma, factor.data + i0, pos.data + i0, neg.data + i0, eps, out.data + i0, i1 - i0);
      // The vector step on pieces whose prior values are kept aside first (out may be the prior).
      constexpr Index kPiece = 256;
      T before[kPiece];
      for (Index c = i0; c < i1; c += kPiece) {
        const Index m = std::min(kPiece, i1 - c);
        std::copy_n(guard.prior.data + c, m, before);
        loops<T>().step(gamma, factor.data + c, pos.data + c, neg.data + c, eps, out.data + c, m);
        for (Index i = 0; i < m; ++i) out.data[c + i] = guardedStep(out.data[c + i], before[i], pos.data[c + i], neg.data[c + i], guard.floor);
      }
    });
  }

  // Rows in fixed chunks of kSweepRows, each transposed into a K×kSweepRows block so that the
  // inner loops run across the chunk's rows (they vectorise) while every row keeps its own sum
  // in r order: the same numbers as one row at a time, whatever the thread count.
  void halsSweep(Mat<T> A, CMat<T> G, CMat<T> B) override {
    constexpr Index kSweepRows = 16;
    const Index rows = A.rows, K = A.cols;
    if (rows == 0 || K == 0) return;
    const Index chunks = (rows + kSweepRows - 1) / kSweepRows;
    const int parts = threadsFor(chunks, 2.0 * rows * K * K);
    std::vector<std::vector<T>> scratch(static_cast<std::size_t>(parts), std::vector<T>(static_cast<std::size_t>(2 * K * kSweepRows)));
    parallelFor(parts, [&](int p) {
      T* at = scratch[std::size_t(p)].data();  // at[r·16 + i] = A[i, r]
      T* bt = at + K * kSweepRows;
      for (Index c = splitPoint(chunks, parts, p), e = splitPoint(chunks, parts, p + 1); c < e; ++c) {
        const Index r0 = c * kSweepRows, n = std::min(kSweepRows, rows - r0);
        for (Index i = 0; i < n; ++i)
          for (Index r = 0; r < K; ++r) at[r * kSweepRows + i] = A.row(r0 + i)[r], bt[r * kSweepRows + i] = B.row(r0 + i)[r];
        for (Index i = n; i < kSweepRows; ++i)
          for (Index r = 0; r < K; ++r) at[r * kSweepRows + i] = T(0), bt[r * kSweepRows + i] = T(0);
        for (Index t = 0; t < K; ++t) {
          T g[kSweepRows];
          const T* gt = G.row(t);
          for (Index i = 0; i < kSweepRows; ++i) g[i] = -bt[t * kSweepRows + i];
          for (Index r = 0; r < K; ++r) {
            const T grt = gt[r];
            const T* a = at + r * kSweepRows;
            for (Index i = 0; i < kSweepRows; ++i) g[i] += grt * a[i];
          }
          const T hess = gt[t];
          if (hess == T(0)) continue;
          T* a = at + t * kSweepRows;
          for (Index i = 0; i < kSweepRows; ++i) {
            const T v = a[i] - g[i] / hess;
            a[i] = v > T(0) ? v : T(0);
          }
        }
        for (Index i = 0; i < n; ++i)
          for (Index r = 0; r < K; ++r) A.row(r0 + i)[r] = at[r * kSweepRows + i];
      }
    });
  }

  void gatherRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) override {
    for (Index i = 0; i < dst.rows; ++i) std::copy(src.row(rows[i]), src.row(rows[i]) + src.cols, dst.row(i));
  }

  void scatterRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) override {
    for (Index i = 0; i < src.rows; ++i) std::copy(src.row(i), src.row(i) + src.cols, dst.row(rows[i]));
  }

  std::unique_ptr<Buffer<T>> allocate(Index count, bool populate = true) override {
    return std::make_unique<HostBuffer<T>>(count, populate);
  }

  // One pass in row-major order (the sum too), so a fit's random start does not depend on the
  // thread count or on whether X was copied first.
  DataIssue scan(CMat<T> X, bool positive) override {
    DataIssue issue;
    for (Index i = 0; i < X.rows; ++i) scanEntries<T, T>(X.row(i), nullptr, X.cols, i * X.cols, positive, issue);
    return issue;
  }

  // The guard runs this over all of H (every 32 batches of a stochastic epoch and at its end),
  // so it is shared by the threads (a maximum does not depend on the order) and written to vectorise: maxima in
  // T, finiteness as a − a == 0 (false for ±Inf and NaN).
  bool columnMax(CMat<T> A, double* out) override {
    const Index K = A.cols;
    std::fill(out, out + K, 0.0);
    if (A.rows == 0 || K == 0) return true;
    const int parts = threadsFor(A.rows / 1024, 2.0 * A.rows * K);
    std::vector<T> maxima(static_cast<std::size_t>(parts * K), T(0));
    std::vector<char> finite(static_cast<std::size_t>(parts), 1);
    parallelFor(parts, [&](int p) {
      T* m = maxima.data() + std::size_t(p) * K;
      bool ok = true;
      for (Index i = splitPoint(A.rows, parts, p), e = splitPoint(A.rows, parts, p + 1); i < e; ++i) {
        const T* a = A.row(i);
        for (Index j = 0; j < K; ++j) {
          ok &= (a[j] - a[j]) == T(0);
          m[j] = a[j] > m[j] ? a[j] : m[j];
        }
      }
      finite[std::size_t(p)] = ok;
    });
    for (int p = 0; p < parts; ++p)
      for (Index j = 0; j < K; ++j) out[j] = std::max(out[j], double(maxima[std::size_t(p) * K + j]));
    return std::all_of(finite.begin(), finite.end(), [](char f) { return f != 0; });
  }

  // (The choice is taken outside the loops so that they vectorise.)
  void scaleColumns(Mat<T> A, const T* __restrict factors, bool divide) override {
    for (Index i = 0; i < A.rows; ++i) {
      T* __restrict a = A.row(i);
      if (divide)
        for (Index j = 0; j < A.cols; ++j) a[j] /= factors[j];
      else
        for (Index j = 0; j < A.cols; ++j) a[j] *= factors[j];
    }
  }

  void fill(Mat<T> m, T value) override {
    for (Index i = 0; i < m.rows; ++i) std::fill(m.row(i), m.row(i) + m.cols, value);
  }

  void copy(CMat<T> src, Mat<T> dst) override {
    for (Index i = 0; i < src.rows; ++i) std::copy(src.row(i), src.row(i) + src.cols, dst.row(i));
  }

  void updateGrad(CMat<T> grad, CMat<T> oldPart, CMat<T> newPart, Mat<T> out) override {
    forEachRange(out.size(), [&](Index i0, Index i1) {
      const T *g = grad.data, *a = oldPart.data, *b = newPart.data;
      T* o = out.data;
      for (Index i = i0; i < i1; ++i) o[i] = sagStep(g[i], a[i], b[i]);
    });
  }

  void blend(Mat<T> avg, CMat<T> part, T f) override {
    forEachRange(avg.size(), [&](Index i0, Index i1) {
      T* a = avg.data;
      const T* b = part.data;
      for (Index i = i0; i < i1; ++i) a[i] = blendStep(a[i], b[i], f);
    });
  }

  // One thread, in index order (F×K is small next to a batch's products): the same sums
  // whatever the thread count.
  void stepAgreement(CMat<T> pos, CMat<T> neg, T rate, Mat<T> last, double*, double out[3]) override {
    double dot = 0, now = 0, before = 0;
    const T *p = pos.data, *n = neg.data;
    T* l = last.data;
    for (Index i = 0, count = last.size(); i < count; ++i) {
      const double step = double(relativeStep(p[i], n[i])), prev = double(l[i]);
      dot += step * prev;
      now += step * step;
      before += prev * prev;
      l[i] = blendStep(l[i], T(step), rate);
    }
    out[0] = dot, out[1] = now, out[2] = before;
  }

 private:
  // β=2 never forms V: pos_H = H·(WᵀW), neg_H = X·W.
  void hPartsEuclidean(CMat<T> X, CMat<T> W, CMat<T> H, Parts<T> out) {
    const Index N = X.rows, F = X.cols, K = W.cols;
    Arena arena(Arena::roundUp(K * K * sizeof(T)));
    Mat<T> G(arena.take<T>(K * K), K, K);
    gram<T>(W, G);
    const Index chunks = (N + 255) / 256;  // fixed row chunks
    forEachPiece(chunks, 2.0 * N * K * (F + K), [&](Index c, int) {
      const Index r0 = c * 256, r1 = std::min(N, r0 + 256);
      Mat<T> neg = out.differenceOnly() ? out.diff.rowBlock(r0, r1) : out.neg.rowBlock(r0, r1);
      gemm<T>(false, false, out.scale, X.rowBlock(r0, r1), W, out.keep, neg);
      if (out.differenceOnly()) gemm<T>(false, false, -out.scale, H.rowBlock(r0, r1), G, T(1), neg);
      else gemm<T>(false, false, out.scale, H.rowBlock(r0, r1), G, out.keep, out.pos.rowBlock(r0, r1));
    });
  }

  // β=2 never forms V: pos_W = W·(HᵀH), neg_W = Xᵀ·H.
  void wPartsEuclidean(CMat<T> X, CMat<T> W, CMat<T> H, Parts<T> out) {
    const Index N = X.rows, F = X.cols, K = W.cols;
    Arena arena(Arena::roundUp(K * K * sizeof(T)));
    Mat<T> G(arena.take<T>(K * K), K, K);
    gram<T>(H, G);
    const Index slices = columnSlices(F);
    forEachPiece(slices, 2.0 * F * K * (N + K), [&](Index sl, int) {
      const Index f0 = splitPoint(F, slices, sl), f1 = splitPoint(F, slices, sl + 1);
      if (f1 == f0) return;
      CMat<T> Xs(X.data + f0, N, f1 - f0, X.ld);
      Mat<T> neg = out.differenceOnly() ? out.diff.rowBlock(f0, f1) : out.neg.rowBlock(f0, f1);
      gemm<T>(true, false, out.scale, Xs, H, out.keep, neg);
      if (out.differenceOnly()) gemm<T>(false, false, -out.scale, W.rowBlock(f0, f1), G, T(1), neg);
      else gemm<T>(false, false, out.scale, W.rowBlock(f0, f1), G, out.keep, out.pos.rowBlock(f0, f1));
    });
  }
};

}  // namespace

template <typename T>
Backend<T>& backend() {
  static CpuBackend<T> instance;
  return instance;
}

template Backend<float>& backend<float>();
template Backend<double>& backend<double>();

}  // namespace bnmf::cpu
