// CUDA implementation of core/backend.h. Each elementwise kernel is a grid-stride loop over a
// block of rows calling the same β functions (core/beta.h) as the CPU loops; GEMMs go to
// cuBLAS (row-major C = op(A)·op(B) computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ);
// reductions accumulate in double, per thread block, and are summed on the host in block
// order (deterministic). Launches go through cuda/launch.h, so the same source also runs in
// the host emulation (native/cuda_emu) that CI tests it with.
#include "cuda/cuda_backend.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <vector>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/launch.h"

// The emulation build shrinks these so small test shapes still take every path (several row
// blocks, several strides per thread) and its fibers stay few.
#ifndef BNMF_THREADS
#define BNMF_THREADS 256
#endif
#ifndef BNMF_MAX_BLOCKS
#define BNMF_MAX_BLOCKS 4096
#endif
#ifndef BNMF_BLOCK_ELEMS
#define BNMF_BLOCK_ELEMS (1 << 24)
#endif

namespace bnmf::cuda {
namespace {

constexpr int kThreads = BNMF_THREADS;  // a power of two (the reductions halve it)
constexpr int kMaxBlocks = BNMF_MAX_BLOCKS;

int blocksFor(Index n) { return static_cast<int>(std::max<Index>(1, std::min<Index>((n + kThreads - 1) / kThreads, kMaxBlocks))); }

// Rows per block so that a block×cols scratch matrix holds at most BNMF_BLOCK_ELEMS elements.
Index blockRows(Index rows, Index cols) {
  return std::max<Index>(1, std::min<Index>(rows, Index(BNMF_BLOCK_ELEMS) / std::max<Index>(cols, 1)));
}

#define GRID_STRIDE(i, n) for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += Index(gridDim.x) * blockDim.x)

// The entries (i, j) of a rows×cols matrix that this thread visits in a grid-stride loop over
// idx = i·cols + j. Row and column are stepped along with idx (two divisions per thread, not
// one per entry), so strided views cost no more than dense ones.
struct Entries {
  Index idx, end, stride, i = 0, j = 0, cols, di = 0, dj = 0;
  BNMF_D Entries(Index rows, Index c)
      : idx(Index(blockIdx.x) * blockDim.x + threadIdx.x), end(rows * c), stride(Index(gridDim.x) * blockDim.x), cols(c) {
    if (idx < end) {
      i = idx / cols;
      j = idx - i * cols;
      di = stride / cols;
      dj = stride - di * cols;
    }
  }
  BNMF_D bool more() const { return idx < end; }
  BNMF_D void next() {
    idx += stride;
    i += di;
    j += dj;
    if (j >= cols) {
      j -= cols;
      ++i;
    }
  }
};

enum PartsMode { kDifference = 0, kBoth = 1, kNegOnly = 2 };

// A holds V (rows×cols, dense); X is rows×cols with row stride ldx; M (weights, row stride
// ldm) is null when unweighted.
template <typename T, typename Pow>
__global__ void partsKernel(Pow pw, int mode, T lo, const T* X, Index ldx, const T* M, Index ldm, T* A, T* B, Index rows, Index cols) {
  for (Entries e(rows, cols); e.more(); e.next()) {
    const T x = X[e.i * ldx + e.j];
    const T v = clipV(A[e.idx], lo);
    const T m = M ? M[e.i * ldm + e.j] : T(1);
    if (mode == kDifference) {
      A[e.idx] = gradientPart(pw, x, v);
      if (M) A[e.idx] = weighed(m, A[e.idx]);
    } else if (mode == kBoth) {
      T r, p;
      muParts(pw, x, v, r, p);
      A[e.idx] = M ? weighed(m, r) : r;
      B[e.idx] = M ? weighed(m, p) : p;
    } else {
      const T r = negPart(pw, x, v);
      A[e.idx] = M ? weighed(m, r) : r;
    }
  }
}

// Sums s[0..kThreads) into s[0] (every thread of the block calls it).
BNMF_D void blockSum(double* s) {
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
}

template <typename T, typename Pow>
__global__ void divergenceKernel(Pow pw, double beta, T lo, const T* X, Index ldx, const T* M, Index ldm, const T* V, Index rows,
                                 Index cols, double* partial) {
  __shared__ double s[kThreads];
  double acc = 0.0;
  for (Entries e(rows, cols); e.more(); e.next()) {
    const double m = M ? double(M[e.i * ldm + e.j]) : 1.0;
    if (m != 0.0) acc += m * divergenceTerm(pw, beta, double(X[e.i * ldx + e.j]), double(clipV(V[e.idx], lo)));
  }
  s[threadIdx.x] = acc;
  blockSum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// partial[2·block] = Σ|a|, partial[2·block + 1] = Σa² over this block's entries.
template <typename T>
__global__ void normsKernel(const T* A, Index ld, Index rows, Index cols, double* partial) {
  __shared__ double s[kThreads];
  double l1 = 0.0, l2 = 0.0;
  for (Entries e(rows, cols); e.more(); e.next()) {
    const double v = double(A[e.i * ld + e.j]);
    l1 += v < 0 ? -v : v;
    l2 += v * v;
  }
  s[threadIdx.x] = l1;
  blockSum(s);
  if (threadIdx.x == 0) partial[2 * blockIdx.x] = s[0];
  __syncthreads();
  s[threadIdx.x] = l2;
  blockSum(s);
  if (threadIdx.x == 0) partial[2 * blockIdx.x + 1] = s[0];
}

// pos += l1 + l2·factor.
template <typename T>
__global__ void penaltyKernel(T* pos, Index ldp, const T* f, Index ldf, Index rows, Index cols, T l1, T l2) {
  for (Entries e(rows, cols); e.more(); e.next()) pos[e.i * ldp + e.j] += l1 + l2 * f[e.i * ldf + e.j];
}

// One HALS sweep (core/backend.h's halsSweep): one thread per row, its sums in r order as on
// the CPU. K² work per row from cached G; rows are few enough per call that this is not the
// bottleneck next to the GEMMs.
template <typename T>
__global__ void halsSweepKernel(T* A, Index lda, const T* G, Index ldg, const T* B, Index ldb, Index rows, Index K) {
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += Index(gridDim.x) * blockDim.x) {
    T* a = A + i * lda;
    const T* b = B + i * ldb;
    for (Index t = 0; t < K; ++t) {
      const T* gt = G + t * ldg;
      T g = -b[t];
      for (Index r = 0; r < K; ++r) g += gt[r] * a[r];
      const T hess = gt[t];
      if (hess == T(0)) continue;
      const T v = a[t] - g / hess;
      a[t] = v > T(0) ? v : T(0);
    }
  }
}

// The scan of X (core/backend.h's DataIssue) per thread block: the first invalid entry's
// row-major position (kNone when none), whether any entry is positive, and the block's sum in
// double, reduced in a fixed tree so the result is the same on every run.
constexpr Index kNone = std::numeric_limits<Index>::max();

template <typename T>
__global__ void scanKernel(const T* X, Index ld, Index rows, Index cols, bool positive, Index* firstBad, int* anyPositive,
                           double* partial) {
  __shared__ double s[kThreads];
  __shared__ Index bad[kThreads];
  __shared__ int pos[kThreads];
  double acc = 0.0;
  Index first = kNone;
  int any = 0;
  for (Entries e(rows, cols); e.more(); e.next()) {
    const T v = X[e.i * ld + e.j];
    if (!validEntry(v, positive) && first == kNone) first = e.idx;  // a thread's entries rise
    any |= v > T(0);
    acc += double(v);
  }
  s[threadIdx.x] = acc;
  bad[threadIdx.x] = first;
  pos[threadIdx.x] = any;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w) {
      s[threadIdx.x] += s[threadIdx.x + w];
      bad[threadIdx.x] = bad[threadIdx.x + w] < bad[threadIdx.x] ? bad[threadIdx.x + w] : bad[threadIdx.x];
      pos[threadIdx.x] |= pos[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partial[blockIdx.x] = s[0];
    firstBad[blockIdx.x] = bad[0];
    anyPositive[blockIdx.x] = pos[0];
  }
}

template <typename T, typename Step>
__global__ void muStepKernel(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  GRID_STRIDE(i, count) o[i] = muStep(step, f[i], p[i], n[i], eps);
}

template <typename T, typename Step>
__global__ void muGuardedKernel(Step step, const T* f, const T* p, const T* n, T eps, const T* prior, T floor, T* o, Index count) {
  GRID_STRIDE(i, count) o[i] = guardedStep(muStep(step, f[i], p[i], n[i], eps), prior[i], p[i], n[i], floor);
}

template <typename T>
__global__ void sagKernel(const T* g, const T* a, const T* b, T* o, Index count) {
  GRID_STRIDE(i, count) o[i] = sagStep(g[i], a[i], b[i]);
}

template <typename T>
__global__ void blendKernel(T* avg, const T* part, T f, Index count) {
  GRID_STRIDE(i, count) avg[i] = blendStep(avg[i], part[i], f);
}

// One block (F×K is small; one block's order is the same on every device): sums = {Σ step·last,
// Σ step², Σ last²}, each thread over its grid-stride entries, then a tree in shared memory;
// last ← blendStep(last, step, rate).
template <typename T>
__global__ void stepAgreementKernel(const T* pos, const T* neg, T rate, T* last, Index count, double* sums) {
  __shared__ double s[3][kThreads];
  double dot = 0.0, now = 0.0, before = 0.0;
  GRID_STRIDE(i, count) {
    const double step = double(relativeStep(pos[i], neg[i])), prev = double(last[i]);
    dot += step * prev;
    now += step * step;
    before += prev * prev;
    last[i] = blendStep(last[i], T(step), rate);
  }
  s[0][threadIdx.x] = dot;
  s[1][threadIdx.x] = now;
  s[2][threadIdx.x] = before;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w)
      for (int k = 0; k < 3; ++k) s[k][threadIdx.x] += s[k][threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int k = 0; k < 3; ++k) sums[k] = s[k][0];
}

// out row r ← scale·row + keep·(out row r); keep = 0 overwrites.
template <typename T>
__global__ void broadcastRowKernel(const T* row, T scale, T keep, T* out, Index ld, Index rows, Index cols) {
  for (Entries e(rows, cols); e.more(); e.next()) {
    T& o = out[e.i * ld + e.j];
    o = scale * row[e.j] + (keep == T(0) ? T(0) : keep * o);
  }
}

template <typename T>
__global__ void fillKernel(T* m, Index ld, Index rows, Index cols, T value) {
  for (Entries e(rows, cols); e.more(); e.next()) m[e.i * ld + e.j] = value;
}

template <typename T>
__global__ void scaleKernel(T* m, Index ld, Index rows, Index cols, T keep) {
  for (Entries e(rows, cols); e.more(); e.next()) {
    T& o = m[e.i * ld + e.j];
    o = keep == T(0) ? T(0) : keep * o;
  }
}

template <typename T>
__global__ void gatherKernel(const T* src, Index lds, const std::uint32_t* rows, T* dst, Index ldd, Index n, Index cols) {
  for (Entries e(n, cols); e.more(); e.next()) dst[e.i * ldd + e.j] = src[Index(rows[e.i]) * lds + e.j];
}

template <typename T>
__global__ void scatterKernel(const T* src, Index lds, const std::uint32_t* rows, T* dst, Index ldd, Index n, Index cols) {
  for (Entries e(n, cols); e.more(); e.next()) dst[Index(rows[e.i]) * ldd + e.j] = src[e.i * lds + e.j];
}

template <typename T>
__global__ void copyKernel(const T* src, Index lds, T* dst, Index ldd, Index rows, Index cols) {
  for (Entries e(rows, cols); e.more(); e.next()) dst[e.i * ldd + e.j] = src[e.i * lds + e.j];
}

// Column maxima as a 2-D reduction: block (x, y) covers columns x·kThreads… and the rows of
// chunk y; each thread walks its column down the chunk (adjacent threads read adjacent
// columns) and writes the chunk's maximum to partial[y·cols + j] (and flags NaN / ±Inf).
template <typename T>
__global__ void columnMaxChunksKernel(const T* A, Index ld, Index rows, Index cols, double* partial, int* nonFinite) {
  const Index j = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  const Index per = (rows + gridDim.y - 1) / gridDim.y;
  const Index r0 = Index(blockIdx.y) * per, r1 = r0 + per < rows ? r0 + per : rows;
  double m = 0.0;
  bool bad = false;
  for (Index i = r0; i < r1; ++i) {
    const double v = double(A[i * ld + j]);
    bad |= !isfinite(v);
    m = v > m ? v : m;
  }
  partial[Index(blockIdx.y) * cols + j] = m;
  if (bad) *nonFinite = 1;
}

// out[j] = max over the chunks' maxima.
__global__ void columnMaxFinishKernel(const double* partial, Index chunks, Index cols, double* out) {
  GRID_STRIDE(j, cols) {
    double m = partial[j];
    for (Index c = 1; c < chunks; ++c) m = partial[c * cols + j] > m ? partial[c * cols + j] : m;
    out[j] = m;
  }
}

template <typename T>
__global__ void scaleColumnsKernel(T* A, Index ld, Index rows, Index cols, const T* f, bool divide) {
  for (Entries e(rows, cols); e.more(); e.next()) {
    T& a = A[e.i * ld + e.j];
    a = divide ? a / f[e.j] : a * f[e.j];
  }
}

template <typename T>
class DeviceBuffer final : public Buffer<T> {
 public:
  explicit DeviceBuffer(Index n) : mem_(static_cast<std::size_t>(n) * sizeof(T)) { ++liveBuffers(); }
  ~DeviceBuffer() override { --liveBuffers(); }
  T* data() override { return static_cast<T*>(mem_.get()); }

 private:
  DeviceMemory mem_;
};

void launchCheck(const char* what) { check(cudaGetLastError(), what); }

template <typename T>
void scale(Mat<T> m, T keep, cudaStream_t s) {
  if (m.size() == 0) return;
  BNMF_LAUNCH(scaleKernel<T>, blocksFor(m.size()), kThreads, s, m.data, m.ld, m.rows, m.cols, keep);
  launchCheck("scaleKernel");
}

// Row-major C = alpha·op(A)·op(B) + beta·C as cuBLAS's column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
template <typename T>
void gemm(Context& ctx, bool transA, bool transB, T alpha, CMat<T> A, CMat<T> B, T beta, Mat<T> C) {
  const Index m = C.rows, n = C.cols, k = transA ? A.rows : A.cols;
  if (m == 0 || n == 0) return;
  if (k == 0) return scale(C, beta, ctx.stream());
  const int opA = transA ? Cublas::T : Cublas::N, opB = transB ? Cublas::T : Cublas::N;
  int status;
  if constexpr (sizeof(T) == 4) {
    status = ctx.api().sgemm(ctx.blas(), opB, opA, int(n), int(m), int(k), &alpha, B.data, int(B.ld), A.data, int(A.ld), &beta, C.data, int(C.ld));
  } else {
    status = ctx.api().dgemm(ctx.blas(), opB, opA, int(n), int(m), int(k), &alpha, B.data, int(B.ld), A.data, int(A.ld), &beta, C.data, int(C.ld));
  }
  checkCublas(status, sizeof(T) == 4 ? "cublasSgemm" : "cublasDgemm");
}

template <typename T>
class CudaBackend final : public Backend<T> {
 public:
  void partsH(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) override {
    Context& ctx = Context::get();
    const Index N = X.rows, F = X.cols, K = W.cols;
    if (N == 0 || K == 0) return;
    const bool diff = out.differenceOnly();
    const bool weighted = out.weighted();  // weighted β=2 forms V (the general pass with t = 1)
    if (beta.kind == BetaKind::Two && !weighted) {  // never forms V: H·(WᵀW) and X·W
      DeviceBuffer<T> g(K * K);
      Mat<T> G(g.data(), K, K);
      gemm<T>(ctx, true, false, T(1), W, W, T(0), G);
      Mat<T> neg = diff ? out.diff : out.neg;
      gemm<T>(ctx, false, false, out.scale, X, W, out.keep, neg);
      if (diff) gemm<T>(ctx, false, false, -out.scale, H, G, T(1), neg);
      else gemm<T>(ctx, false, false, out.scale, H, G, out.keep, out.pos);
      return;
    }
    const bool needPos = !diff && beta.kind != BetaKind::One;
    const Index rb = blockRows(N, F);
    DeviceBuffer<T> a(rb * F), b(needPos ? rb * F : 0), colSum(K);
    if (!diff && beta.kind == BetaKind::One && !weighted) columnSums(ctx, W, colSum.data());
    for (Index r0 = 0; r0 < N; r0 += rb) {
      const Index r1 = std::min(N, r0 + rb), n = r1 - r0;
      Mat<T> A(a.data(), n, F), B(b.data(), n, F);
      CMat<T> Mb = weighted ? out.weights.rowBlock(r0, r1) : CMat<T>();
      gemm<T>(ctx, false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);
      if (!fused) B = A;
      else elementwise(beta, diff ? kDifference : needPos ? kBoth : kNegOnly, out.vFloor, X.rowBlock(r0, r1), Mb, A, B, ctx.stream());
      if (diff) {
        gemm<T>(ctx, false, false, out.scale, A, W, out.keep, out.diff.rowBlock(r0, r1));
        continue;
      }
      gemm<T>(ctx, false, false, out.scale, A, W, out.keep, out.neg.rowBlock(r0, r1));
      if (needPos) gemm<T>(ctx, false, false, out.scale, B, W, out.keep, out.pos.rowBlock(r0, r1));
      else if (weighted) gemm<T>(ctx, false, false, out.scale, Mb, W, out.keep, out.pos.rowBlock(r0, r1));  // β=1: M·W
      else broadcast(colSum.data(), out.scale, out.keep, out.pos.rowBlock(r0, r1), ctx.stream());
    }
  }

  void partsW(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, Parts<T> out, bool fused) override {
    Context& ctx = Context::get();
    const Index N = X.rows, F = X.cols, K = W.cols;
    if (F == 0 || K == 0) return;
    if (N == 0) {
      const Mat<T> outs[3] = {out.pos, out.neg, out.diff};
      for (const Mat<T>& m : outs)
        if (!m.empty()) scale(m, out.keep, ctx.stream());
      return;
    }
    const bool diff = out.differenceOnly();
    const bool weighted = out.weighted();
    if (beta.kind == BetaKind::Two && !weighted) {  // W·(HᵀH) and Xᵀ·H
      DeviceBuffer<T> g(K * K);
      Mat<T> G(g.data(), K, K);
      gemm<T>(ctx, true, false, T(1), H, H, T(0), G);
      Mat<T> neg = diff ? out.diff : out.neg;
      gemm<T>(ctx, true, false, out.scale, X, H, out.keep, neg);
      if (diff) gemm<T>(ctx, false, false, -out.scale, W, G, T(1), neg);
      else gemm<T>(ctx, false, false, out.scale, W, G, out.keep, out.pos);
      return;
    }
    const bool needPos = !diff && beta.kind != BetaKind::One;
    const Index rb = blockRows(N, F);
    DeviceBuffer<T> a(rb * F), b(needPos ? rb * F : 0), colSum(K);
    if (!diff && beta.kind == BetaKind::One && !weighted) {
      columnSums(ctx, H, colSum.data());
      broadcast(colSum.data(), out.scale, out.keep, out.pos, ctx.stream());
    }
    Mat<T> target = diff ? out.diff : out.neg;
    for (Index r0 = 0; r0 < N; r0 += rb) {
      const Index r1 = std::min(N, r0 + rb), n = r1 - r0;
      const T keep = r0 == 0 ? out.keep : T(1);
      Mat<T> A(a.data(), n, F), B(b.data(), n, F);
      CMat<T> Hb = H.rowBlock(r0, r1);
      CMat<T> Mb = weighted ? out.weights.rowBlock(r0, r1) : CMat<T>();
      gemm<T>(ctx, false, true, T(1), Hb, W, T(0), A);
      if (!fused) B = A;
      else elementwise(beta, diff ? kDifference : needPos ? kBoth : kNegOnly, out.vFloor, X.rowBlock(r0, r1), Mb, A, B, ctx.stream());
      gemm<T>(ctx, true, false, out.scale, A, Hb, keep, target);
      if (needPos) gemm<T>(ctx, true, false, out.scale, B, Hb, keep, out.pos);
      else if (weighted && !diff) gemm<T>(ctx, true, false, out.scale, Mb, Hb, keep, out.pos);  // β=1: Mᵀ·H
    }
  }

  // V is clipped only when vFloor > 0; with vFloor = 0 every entry takes the exact formula,
  // negative V (from signed factors) included.
  void product(bool transA, bool transB, T scale, CMat<T> A, CMat<T> B, T keep, Mat<T> C) override {
    gemm<T>(Context::get(), transA, transB, scale, A, B, keep, C);
  }

  double betaDivergence(CMat<T> X, CMat<T> W, CMat<T> H, const Beta& beta, T vFloor, CMat<T> weights) override {
    Context& ctx = Context::get();
    const Index N = X.rows, F = X.cols;
    if (N == 0 || F == 0) return 0.0;
    const Index rb = blockRows(N, F);
    DeviceBuffer<T> a(rb * F);
    const T lo = floorOf(vFloor);
    std::vector<double> partial;
    double total = 0.0;
    DeviceMemory sums(sizeof(double) * kMaxBlocks);
    for (Index r0 = 0; r0 < N; r0 += rb) {
      const Index r1 = std::min(N, r0 + rb), n = r1 - r0;
      Mat<T> A(a.data(), n, F);
      gemm<T>(ctx, false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);
      const int blocks = blocksFor(n * F);
      withBetaPower(beta, [&](auto pw) {
        BNMF_LAUNCH_SYNCED(divergenceKernel<T>, blocks, kThreads, ctx.stream(), pw, beta.value, lo, X.row(r0), X.ld,
                           weights.empty() ? static_cast<const T*>(nullptr) : weights.row(r0), weights.ld, A.data, n, F,
                           static_cast<double*>(sums.get()));
      });
      launchCheck("divergenceKernel");
      partial.resize(blocks);
      check(cudaMemcpyAsync(partial.data(), sums.get(), sizeof(double) * blocks, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
      ctx.synchronize();
      for (double v : partial) total += v;
    }
    return total;
  }

  void addPenalty(Mat<T> pos, CMat<T> factor, T l1, T l2) override {
    if (pos.size() == 0) return;
    BNMF_LAUNCH(penaltyKernel<T>, blocksFor(pos.size()), kThreads, Context::get().stream(), pos.data, pos.ld, factor.data, factor.ld,
                pos.rows, pos.cols, l1, l2);
    launchCheck("penaltyKernel");
  }

  void halsSweep(Mat<T> A, CMat<T> G, CMat<T> B) override {
    if (A.size() == 0) return;
    BNMF_LAUNCH(halsSweepKernel<T>, blocksFor(A.rows), kThreads, Context::get().stream(), A.data, A.ld, G.data, G.ld, B.data, B.ld,
                A.rows, A.cols);
    launchCheck("halsSweepKernel");
  }

  // Per-block sums in double, added on the host in block order (deterministic).
  void norms(CMat<T> A, double& l1, double& l2) override {
    l1 = l2 = 0.0;
    if (A.size() == 0) return;
    Context& ctx = Context::get();
    const int blocks = blocksFor(A.size());
    DeviceMemory sums(sizeof(double) * 2 * blocks);
    BNMF_LAUNCH_SYNCED(normsKernel<T>, blocks, kThreads, ctx.stream(), A.data, A.ld, A.rows, A.cols, static_cast<double*>(sums.get()));
    launchCheck("normsKernel");
    std::vector<double> partial(2 * std::size_t(blocks));
    check(cudaMemcpyAsync(partial.data(), sums.get(), sizeof(double) * partial.size(), cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    ctx.synchronize();
    for (int b = 0; b < blocks; ++b) l1 += partial[2 * b], l2 += partial[2 * b + 1];
}

  // Only the blocks' partial results (and the first invalid entry) come back to the host.
  DataIssue scan(CMat<T> X, bool positive) override {
    DataIssue issue;
    const Index n = X.size();
    if (n == 0) return issue;
    Context& ctx = Context::get();
    const int blocks = blocksFor(n);
    DeviceMemory mem((sizeof(double) + sizeof(Index) + sizeof(int)) * blocks);
    auto* dSums = static_cast<double*>(mem.get());
    auto* dBad = reinterpret_cast<Index*>(dSums + blocks);
    auto* dPos = reinterpret_cast<int*>(dBad + blocks);
    BNMF_LAUNCH_SYNCED(scanKernel<T>, blocks, kThreads, ctx.stream(), X.data, X.ld, X.rows, X.cols, positive, dBad, dPos, dSums);
    launchCheck("scanKernel");
    std::vector<double> sums(blocks);
    std::vector<Index> bad(blocks);
    std::vector<int> pos(blocks);
    check(cudaMemcpyAsync(sums.data(), dSums, sizeof(double) * blocks, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    check(cudaMemcpyAsync(bad.data(), dBad, sizeof(Index) * blocks, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    check(cudaMemcpyAsync(pos.data(), dPos, sizeof(int) * blocks, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    ctx.synchronize();
    Index first = kNone;
    for (int b = 0; b < blocks; ++b) {  // in block order: deterministic
      issue.sum += sums[b];
      issue.anyPositive |= pos[b] != 0;
      first = std::min(first, bad[b]);
    }
    if (first != kNone) {
      const Index i = first / X.cols, j = first - i * X.cols;
      T v;
      check(cudaMemcpyAsync(&v, X.data + i * X.ld + j, sizeof(T), cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
      ctx.synchronize();
      issue.index = first;
      issue.value = double(v);
    }
    return issue;
  }

  void muUpdate(CMat<T> factor, CMat<T> pos, CMat<T> neg, T eps, double gamma, Mat<T> out, StepGuard<T> guard = {}) override {
    const Index n = out.size();
    if (n == 0) return;
    cudaStream_t s = Context::get().stream();
    withStepExponent(gamma, [&](auto step) {
      if (guard.on())
        BNMF_LAUNCH(muGuardedKernel<T>, blocksFor(n), kThreads, s, step, factor.data, pos.data, neg.data, eps, guard.prior.data,
                    guard.floor, out.data, n);
      else
        BNMF_LAUNCH(muStepKernel<T>, blocksFor(n), kThreads, s, step, factor.data, pos.data, neg.data, eps, out.data, n);
    });
    launchCheck(guard.on() ? "muGuardedKernel" : "muStepKernel");
  }

  void updateGrad(CMat<T> grad, CMat<T> oldPart, CMat<T> newPart, Mat<T> out) override {
    const Index n = out.size();
    if (n == 0) return;
    BNMF_LAUNCH(sagKernel<T>, blocksFor(n), kThreads, Context::get().stream(), grad.data, oldPart.data, newPart.data, out.data, n);
    launchCheck("sagKernel");
  }

  void blend(Mat<T> avg, CMat<T> part, T f) override {
    const Index n = avg.size();
    if (n == 0) return;
    BNMF_LAUNCH(blendKernel<T>, blocksFor(n), kThreads, Context::get().stream(), avg.data, part.data, f, n);
    launchCheck("blendKernel");
  }

  void stepAgreement(CMat<T> pos, CMat<T> neg, T rate, Mat<T> last, double* sums, double out[3]) override {
    out[0] = out[1] = out[2] = 0.0;
    const Index n = last.size();
    if (n == 0) return;
    Context& ctx = Context::get();
    BNMF_LAUNCH_SYNCED(stepAgreementKernel<T>, 1, kThreads, ctx.stream(), pos.data, neg.data, rate, last.data, n, sums);
    launchCheck("stepAgreementKernel");
    check(cudaMemcpyAsync(out, sums, sizeof(double) * 3, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    ctx.synchronize();
  }

  void gatherRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) override { moveRows(src, rows, dst, true); }
  void scatterRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst) override { moveRows(src, rows, dst, false); }

  std::unique_ptr<Buffer<T>> allocate(Index count, bool = true) override { return std::make_unique<DeviceBuffer<T>>(count); }

  bool columnMax(CMat<T> A, double* out) override {
    Context& ctx = Context::get();
    if (A.cols == 0) return true;
    if (A.rows == 0) {
      std::fill(out, out + A.cols, 0.0);
      return true;
    }
    // About 64 rows per thread, in at most kMaxBlocks / column-tiles chunks (and 64 at most).
    const Index colTiles = (A.cols + kThreads - 1) / kThreads;
    const Index chunks = std::max<Index>(1, std::min<Index>({(A.rows + 63) / 64, 64, std::max<Index>(1, kMaxBlocks / colTiles)}));
    DeviceMemory mem(sizeof(double) * A.cols * (chunks + 1) + sizeof(int));
    auto* dOut = static_cast<double*>(mem.get());
    auto* dPartial = dOut + A.cols;
    auto* dFlag = reinterpret_cast<int*>(dPartial + A.cols * chunks);
    check(cudaMemsetAsync(dFlag, 0, sizeof(int), ctx.stream()), "cudaMemsetAsync");
    BNMF_LAUNCH(columnMaxChunksKernel<T>, dim3(unsigned(colTiles), unsigned(chunks)), kThreads, ctx.stream(), A.data, A.ld,
                A.rows, A.cols, dPartial, dFlag);
    launchCheck("columnMaxChunksKernel");
    BNMF_LAUNCH(columnMaxFinishKernel, blocksFor(A.cols), kThreads, ctx.stream(), dPartial, chunks, A.cols, dOut);
    launchCheck("columnMaxFinishKernel");
    int flag = 0;
    check(cudaMemcpyAsync(out, dOut, sizeof(double) * A.cols, cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    check(cudaMemcpyAsync(&flag, dFlag, sizeof(int), cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
    ctx.synchronize();
    return flag == 0;
  }

  void scaleColumns(Mat<T> A, const T* factors, bool divide) override {
    if (A.size() == 0) return;
    Context& ctx = Context::get();
    DeviceMemory f(sizeof(T) * A.cols);
    check(cudaMemcpyAsync(f.get(), factors, sizeof(T) * A.cols, cudaMemcpyHostToDevice, ctx.stream()), "cudaMemcpyAsync");
    BNMF_LAUNCH(scaleColumnsKernel<T>, blocksFor(A.size()), kThreads, ctx.stream(), A.data, A.ld, A.rows, A.cols,
                static_cast<const T*>(f.get()), divide);
    launchCheck("scaleColumnsKernel");
    ctx.synchronize();  // the factors live on the host stack of the caller
  }

  void fill(Mat<T> m, T value) override {
    if (m.size() == 0) return;
    BNMF_LAUNCH(fillKernel<T>, blocksFor(m.size()), kThreads, Context::get().stream(), m.data, m.ld, m.rows, m.cols, value);
    launchCheck("fillKernel");
  }

  void copy(CMat<T> src, Mat<T> dst) override {
    if (src.size() == 0) return;
    BNMF_LAUNCH(copyKernel<T>, blocksFor(src.size()), kThreads, Context::get().stream(), src.data, src.ld, dst.data, dst.ld,
                src.rows, src.cols);
    launchCheck("copyKernel");
  }

  void finish() override { Context::get().synchronize(); }

 private:
  static T floorOf(T vFloor) { return vFloor > T(0) ? vFloor : -std::numeric_limits<T>::infinity(); }

  static void elementwise(const Beta& beta, int mode, T vFloor, CMat<T> Xb, CMat<T> Mb, Mat<T> A, Mat<T> B, cudaStream_t s) {
    const T lo = floorOf(vFloor);
    withBetaPower(beta, [&](auto pw) {
      BNMF_LAUNCH(partsKernel<T>, blocksFor(A.size()), kThreads, s, pw, mode, lo, Xb.data, Xb.ld, Mb.data, Mb.ld, A.data, B.data,
                  A.rows, A.cols);
    });
    launchCheck("partsKernel");
  }

  // sums[j] = Σ_i A[i, j], as the product 1ᵀ·A on cuBLAS.
  void columnSums(Context& ctx, CMat<T> A, T* sums) {
    DeviceBuffer<T> ones(std::max<Index>(A.rows, 1));
    Mat<T> row(ones.data(), 1, A.rows);
    fill(row, T(1));
    gemm<T>(ctx, false, false, T(1), row, A, T(0), Mat<T>(sums, 1, A.cols));
  }

  static void broadcast(const T* row, T scale, T keep, Mat<T> out, cudaStream_t s) {
    if (out.size() == 0) return;
    BNMF_LAUNCH(broadcastRowKernel<T>, blocksFor(out.size()), kThreads, s, row, scale, keep, out.data, out.ld, out.rows, out.cols);
    launchCheck("broadcastRowKernel");
  }

  // Row indices come from the host (the solver's shuffle); they are copied over first.
  static void moveRows(CMat<T> src, const std::uint32_t* rows, Mat<T> dst, bool gather) {
    const Index n = gather ? dst.rows : src.rows, cols = src.cols;
    if (n == 0 || cols == 0) return;
    Context& ctx = Context::get();
    DeviceMemory idx(sizeof(std::uint32_t) * n);
    check(cudaMemcpyAsync(idx.get(), rows, sizeof(std::uint32_t) * n, cudaMemcpyHostToDevice, ctx.stream()), "cudaMemcpyAsync");
    auto* d = static_cast<const std::uint32_t*>(idx.get());
    if (gather) BNMF_LAUNCH(gatherKernel<T>, blocksFor(n * cols), kThreads, ctx.stream(), src.data, src.ld, d, dst.data, dst.ld, n, cols);
    else BNMF_LAUNCH(scatterKernel<T>, blocksFor(n * cols), kThreads, ctx.stream(), src.data, src.ld, d, dst.data, dst.ld, n, cols);
    launchCheck(gather ? "gatherKernel" : "scatterKernel");
  }
};

}  // namespace

template <typename T>
Backend<T>& backend() {
  Context::get();  // throws when CUDA is unavailable
  static CudaBackend<T> instance;
  return instance;
}

template Backend<float>& backend<float>();
template Backend<double>& backend<double>();

}  // namespace bnmf::cuda
