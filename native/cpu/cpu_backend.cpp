#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <sys/mman.h>
#include <type_traits>
#include <vector>

#include "cpu/blas.h"
#include "cpu/parallel.h"
#include "cpu/workspace.h"

#include "cpu/isa.h"
#include "cpu/vecmath.h"

// The elementwise loops are compiled three times: for baseline x86-64, x86-64-v3 (AVX2+FMA) and
// x86-64-v4 (AVX-512), with cpu/vecmath.h's vectorised float pow in the last two. cpu/isa.h
// picks one once per process (the CPU's best, or BETANMF_CPU_ISA), so the binary runs on any
// x86-64. The bodies are always_inline so that each copy is compiled for its own target.
#if BNMF_HAVE_AVX512_LOOPS
#define BNMF_LOOP_BODY __attribute__((always_inline)) inline
#else
#define BNMF_LOOP_BODY inline
#endif

namespace bnmf::cpu {
namespace {

// Rows per block so that one b×cols scratch buffer is about 256 KiB (two of them stay in L2).
template <typename T>
Index blockRows(Index cols) {
  const Index target = (256 * 1024) / (static_cast<Index>(sizeof(T)) * std::max<Index>(cols, 1));
  return std::clamp<Index>(target, 16, 512);
}

// Every pass is cut into blocks by fixed rules that depend on the shapes only, never on the
// number of threads: each block is the same GEMM whichever thread runs it, and sums over
// blocks are taken in block order, so results are identical bit for bit for 1, 2 or 64
// threads. Threads then share out whole blocks.

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
int threadsFor(Index units, double flops) {
  if (flops < 1e6 || units < 2) return 1;
  return static_cast<int>(std::min<Index>(maxThreads(), units));
}

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

// Runs piece(i) for i in [0, pieces) on the threads worth using for `flops` of work, each
// thread taking a contiguous run of pieces (which thread runs a piece never changes it).
template <typename Fn>
void forEachPiece(Index pieces, double flops, Fn&& piece) {
  const int parts = threadsFor(pieces, flops);
  parallelFor(parts, [&](int p) {
    for (Index i = splitPoint(pieces, parts, p), e = splitPoint(pieces, parts, p + 1); i < e; ++i) piece(i, p);
  });
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

// The elementwise pass on one block: V (in A) and X → the parts the products need.
//   both parts: A ← V^(β−2)⊙X, B ← V^(β−1)   (B untouched at β=1, whose pos part is a broadcast)
//   difference: A ← V^(β−2)⊙(X − V)
// V is clipped at `floor` in the same pass (a floor of 0 means no clipping: the kernels'
// exact formulas, for any sign).
template <typename T, typename Pow>
BNMF_LOOP_BODY void blockPartsLoop(Pow pw, bool difference, bool needPos, T floor, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  const Index rows = A.rows, cols = A.cols;
  const T lo = floor > T(0) ? floor : -std::numeric_limits<T>::infinity();
  for (Index i = 0; i < rows; ++i) {
    const T* __restrict x = Xb.row(i);
    T* __restrict a = A.row(i);
    if (difference) {
      for (Index j = 0; j < cols; ++j) a[j] = gradientPart(pw, x[j], clipV(a[j], lo));
    } else if (needPos) {
      T* __restrict b = B.row(i);
      for (Index j = 0; j < cols; ++j) muParts(pw, x[j], clipV(a[j], lo), a[j], b[j]);
    } else {
      for (Index j = 0; j < cols; ++j) a[j] = negPart(pw, x[j], clipV(a[j], lo));
    }
  }
}

// The entry weights applied to one block's parts: a ← m·a (and b ← m·b), exactly 0 where m = 0
// (an infinite part at V = 0 included). A second pass over the block while it is in L2. The
// compiler does not vectorise the select (it sinks the product into a branch and may not
// speculate a product that could trap), so the AVX2 and AVX-512 copies below are written with
// intrinsics: product, compare, mask (the scalar loop calls core/beta.h's weighed).

template <typename T>
void weighRowsScalar(const T* m, T* a, T* b, Index cols) {
  for (Index j = 0; j < cols; ++j) {
    a[j] = weighed(m[j], a[j]);
    if (b) b[j] = weighed(m[j], b[j]);
  }
}

// o = f ⊙ step(n / (p + eps)) over n entries (o may be f).
template <typename T, typename Step>
BNMF_LOOP_BODY void muStepLoop(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  for (Index i = 0; i < count; ++i) o[i] = muStep(step, f[i], p[i], n[i], eps);
}

// One entry of blockParts by the scalar formulas of core/beta.h (the vector loops' fallback).
template <typename T, typename Pow>
inline void scalarParts(Pow pw, bool difference, bool needPos, T floor, T x, T& a, T* b) {
  const T lo = floor > T(0) ? floor : -std::numeric_limits<T>::infinity();
  const T v = clipV(a, lo);
  if (difference) a = gradientPart(pw, x, v);
  else if (needPos) muParts(pw, x, v, a, *b);
  else a = negPart(pw, x, v);
}

#if BNMF_HAVE_AVX512_LOOPS
// The compiler's AVX2 vectorisation of the plain loops, except float with a general exponent:
// there the scalar powf does not vectorise, and cpu/vecmath.h's does (8 lanes, scalar tail).
template <typename T, typename Pow>
BNMF_TARGET_AVX2 void blockPartsAvx2(Pow pw, bool difference, bool needPos, T floor, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Pow, PowBetaGeneral>) {
    blockPartsLoop<T>(pw, difference, needPos, floor, Xb, A, B);
  } else {
    const float e = static_cast<float>(pw.e);
    const float flo = floor > 0.0f ? floor : -std::numeric_limits<float>::infinity();
    const __m256 lo = _mm256_set1_ps(flo);
    const __m256 inRange = _mm256_set1_ps(0x1p-30f), inRangeHi = _mm256_set1_ps(0x1p30f);
    const Index cols = A.cols, full = cols - cols % 8;
    for (Index i = 0; i < A.rows; ++i) {
      const float* x = Xb.row(i);
      float* a = A.row(i);
      float* b = needPos ? B.row(i) : nullptr;
      for (Index j = 0; j < full; j += 8) {
        const __m256 xv = _mm256_loadu_ps(x + j);
        const __m256 v = _mm256_max_ps(lo, _mm256_loadu_ps(a + j));  // v when v is NaN, as clipV
        // As in the AVX-512 loop: lanes off [2^-30, 2^30] (or NaN) take the scalar formulas.
        if (_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(v, inRange, _CMP_NGE_UQ), _mm256_cmp_ps(v, inRangeHi, _CMP_NLE_UQ)))) {
          for (Index k = j; k < j + 8; ++k) scalarParts(pw, difference, needPos, floor, x[k], a[k], b ? &b[k] : nullptr);
          continue;
        }
        const __m256 t = vec::powPositive(v, e);
        if (difference) {
          _mm256_storeu_ps(a + j, _mm256_mul_ps(t, _mm256_sub_ps(xv, v)));
        } else {
          _mm256_storeu_ps(a + j, _mm256_mul_ps(t, xv));
          if (needPos) _mm256_storeu_ps(b + j, _mm256_mul_ps(t, v));
        }
      }
      for (Index j = full; j < cols; ++j) {
        if (difference) a[j] = gradientPart(pw, x[j], clipV(a[j], flo));
        else if (needPos) muParts(pw, x[j], clipV(a[j], flo), a[j], b[j]);
        else a[j] = pw(clipV(a[j], flo)) * x[j];
      }
    }
  }
}

template <typename T, typename Step>
BNMF_TARGET_AVX2 void muStepAvx2(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Step, StepPow>) {
    muStepLoop<T>(step, f, p, n, eps, o, count);
  } else {
    const float gamma = static_cast<float>(step.gamma);
    const __m256 e = _mm256_set1_ps(eps);
    const Index full = count - count % 8;
    for (Index i = 0; i < full; i += 8) {
      const __m256 q = _mm256_div_ps(_mm256_loadu_ps(n + i), _mm256_add_ps(_mm256_loadu_ps(p + i), e));
      _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_loadu_ps(f + i), vec::powPositive(q, gamma)));
    }
    muStepLoop<T>(step, f + full, p + full, n + full, eps, o + full, count - full);
  }
}

// The compiler's AVX-512 vectorisation of the plain loops, except float with a general
// exponent: there the scalar powf does not vectorise, and cpu/vecmath.h's does (16 lanes, a
// masked tail).
template <typename T, typename Pow>
BNMF_TARGET_AVX512 void blockPartsAvx512(Pow pw, bool difference, bool needPos, T floor, CMat<T> Xb, Mat<T> A, Mat<T> B) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Pow, PowBetaGeneral>) {
    blockPartsLoop<T>(pw, difference, needPos, floor, Xb, A, B);
  } else {
    const float e = static_cast<float>(pw.e);
    const __m512 lo = _mm512_set1_ps(floor > 0.0f ? floor : -std::numeric_limits<float>::infinity());
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 inRange = _mm512_set1_ps(0x1p-30f), inRangeHi = _mm512_set1_ps(0x1p30f);
    for (Index i = 0; i < A.rows; ++i) {
      const float* x = Xb.row(i);
      float* a = A.row(i);
      float* b = needPos ? B.row(i) : nullptr;
      for (Index j = 0; j < A.cols; j += 16) {
        const __mmask16 m = vec::firstLanes(A.cols - j);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + j);
        // max(lo, v) returns v when v is NaN, as clipV does; idle lanes hold 1.
        const __m512 v = _mm512_max_ps(lo, _mm512_mask_loadu_ps(one, m, a + j));
        // Lanes off [2^-30, 2^30] (or NaN) take the scalar formulas: they define V = 0's limits,
        // keep each part in range when it fits, and are exact to rounding where the polynomial
        // pow would lose digits. One such lane sends its 16 to the scalar loop.
        if (_mm512_mask_cmp_ps_mask(m, v, inRange, _CMP_NGE_UQ) | _mm512_mask_cmp_ps_mask(m, v, inRangeHi, _CMP_NLE_UQ)) {
          const Index end = std::min<Index>(A.cols, j + 16);
          for (Index k = j; k < end; ++k) scalarParts(pw, difference, needPos, floor, x[k], a[k], b ? &b[k] : nullptr);
          continue;
        }
        const __m512 t = vec::powPositive(v, e);
        if (difference) {
          _mm512_mask_storeu_ps(a + j, m, _mm512_mul_ps(t, _mm512_sub_ps(xv, v)));
        } else {
          _mm512_mask_storeu_ps(a + j, m, _mm512_mul_ps(t, xv));
          if (needPos) _mm512_mask_storeu_ps(b + j, m, _mm512_mul_ps(t, v));
        }
      }
    }
  }
}

template <typename T, typename Step>
BNMF_TARGET_AVX512 void muStepAvx512(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
  if constexpr (!std::is_same_v<T, float> || !std::is_same_v<Step, StepPow>) {
    muStepLoop<T>(step, f, p, n, eps, o, count);
  } else {
    const float gamma = static_cast<float>(step.gamma);
    const __m512 e = _mm512_set1_ps(eps), one = _mm512_set1_ps(1.0f);
    for (Index i = 0; i < count; i += 16) {
      const __mmask16 m = vec::firstLanes(count - i);
      const __m512 d = _mm512_add_ps(_mm512_mask_loadu_ps(one, m, p + i), e);
      const __m512 q = _mm512_div_ps(_mm512_mask_loadu_ps(one, m, n + i), d);
      _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, f + i), vec::powPositive(q, gamma)));
    }
  }
}
#endif

#if BNMF_HAVE_AVX512_LOOPS
template <typename T>
BNMF_TARGET_AVX2 void weighRowsAvx2(const T* m, T* a, T* b, Index cols) {
  Index j = 0;
  if constexpr (std::is_same_v<T, float>) {
    const __m256 zero = _mm256_setzero_ps();
    for (; j + 8 <= cols; j += 8) {
      const __m256 mv = _mm256_loadu_ps(m + j), nz = _mm256_cmp_ps(mv, zero, _CMP_NEQ_OQ);
      _mm256_storeu_ps(a + j, _mm256_and_ps(nz, _mm256_mul_ps(mv, _mm256_loadu_ps(a + j))));
      if (b) _mm256_storeu_ps(b + j, _mm256_and_ps(nz, _mm256_mul_ps(mv, _mm256_loadu_ps(b + j))));
    }
  } else {
    const __m256d zero = _mm256_setzero_pd();
    for (; j + 4 <= cols; j += 4) {
      const __m256d mv = _mm256_loadu_pd(m + j), nz = _mm256_cmp_pd(mv, zero, _CMP_NEQ_OQ);
      _mm256_storeu_pd(a + j, _mm256_and_pd(nz, _mm256_mul_pd(mv, _mm256_loadu_pd(a + j))));
      if (b) _mm256_storeu_pd(b + j, _mm256_and_pd(nz, _mm256_mul_pd(mv, _mm256_loadu_pd(b + j))));
    }
  }
  weighRowsScalar<T>(m + j, a + j, b ? b + j : nullptr, cols - j);
}

template <typename T>
BNMF_TARGET_AVX512 void weighRowsAvx512(const T* m, T* a, T* b, Index cols) {
  if constexpr (std::is_same_v<T, float>) {
    const __m512 zero = _mm512_setzero_ps();
    for (Index j = 0; j < cols; j += 16) {
      const __mmask16 t = vec::firstLanes(cols - j);
      const __m512 mv = _mm512_maskz_loadu_ps(t, m + j);
      const __mmask16 nz = _mm512_mask_cmp_ps_mask(t, mv, zero, _CMP_NEQ_OQ);
      _mm512_mask_storeu_ps(a + j, t, _mm512_maskz_mul_ps(nz, mv, _mm512_maskz_loadu_ps(t, a + j)));
      if (b) _mm512_mask_storeu_ps(b + j, t, _mm512_maskz_mul_ps(nz, mv, _mm512_maskz_loadu_ps(t, b + j)));
    }
  } else {
    const __m512d zero = _mm512_setzero_pd();
    for (Index j = 0; j < cols; j += 8) {
      const __mmask8 t = cols - j >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << (cols - j)) - 1u);
      const __m512d mv = _mm512_maskz_loadu_pd(t, m + j);
      const __mmask8 nz = _mm512_mask_cmp_pd_mask(t, mv, zero, _CMP_NEQ_OQ);
      _mm512_mask_storeu_pd(a + j, t, _mm512_maskz_mul_pd(nz, mv, _mm512_maskz_loadu_pd(t, a + j)));
      if (b) _mm512_mask_storeu_pd(b + j, t, _mm512_maskz_mul_pd(nz, mv, _mm512_maskz_loadu_pd(t, b + j)));
    }
  }
}
#endif

template <typename T>
void weighBlock(CMat<T> M, Mat<T> A, Mat<T> B) {
  for (Index i = 0; i < A.rows; ++i) {
    const T* m = M.row(i);
    T* a = A.row(i);
    T* b = B.empty() ? nullptr : B.row(i);
#if BNMF_HAVE_AVX512_LOOPS
    switch (loopIsa().active) {
      case LoopIsa::Avx512: weighRowsAvx512<T>(m, a, b, A.cols); continue;
      case LoopIsa::Avx2: weighRowsAvx2<T>(m, a, b, A.cols); continue;
      default: break;
    }
#endif
    weighRowsScalar<T>(m, a, b, A.cols);
  }
}

template <typename T, typename Pow>
void blockParts(Pow pw, bool difference, bool needPos, T floor, CMat<T> Xb, Mat<T> A, Mat<T> B) {
#if BNMF_HAVE_AVX512_LOOPS
  switch (loopIsa().active) {
    case LoopIsa::Avx512: return blockPartsAvx512<T>(pw, difference, needPos, floor, Xb, A, B);
    case LoopIsa::Avx2: return blockPartsAvx2<T>(pw, difference, needPos, floor, Xb, A, B);
    default: break;
  }
#endif
  blockPartsLoop<T>(pw, difference, needPos, floor, Xb, A, B);
}

template <typename T, typename Step>
void muStepRange(Step step, const T* f, const T* p, const T* n, T eps, T* o, Index count) {
#if BNMF_HAVE_AVX512_LOOPS
  switch (loopIsa().active) {
    case LoopIsa::Avx512: return muStepAvx512<T>(step, f, p, n, eps, o, count);
    case LoopIsa::Avx2: return muStepAvx2<T>(step, f, p, n, eps, o, count);
    default: break;
  }
#endif
  muStepLoop<T>(step, f, p, n, eps, o, count);
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

    withBetaPower(beta, [&](auto pw) {
      parallelFor(parts, [&](int p) {
        const Index b0 = splitPoint(nBlocks, parts, p), b1 = splitPoint(nBlocks, parts, p + 1);
        for (Index blk = b0; blk < b1; ++blk) {
          const Index r0 = blk * rb, r1 = std::min(N, r0 + rb), n = r1 - r0;
          Mat<T> A(bufA[p], n, F), B(bufB[p], n, F);
          gemm<T>(false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);  // V_b = H_b·Wᵀ
          if (!fused) B = A;
          else blockParts<T>(pw, diff, needPos, out.vFloor, X.rowBlock(r0, r1), A, B);
          if (fused && weighted) weighBlock<T>(out.weights.rowBlock(r0, r1), A, needPos ? B : Mat<T>());
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

    withBetaPower(beta, [&](auto pw) {
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
          else blockParts<T>(pw, diff, needPos, out.vFloor, Xs.rowBlock(r0, r1), A, B);
          if (fused && weighted) weighBlock<T>(Ms.rowBlock(r0, r1), A, needPos ? B : Mat<T>());
          gemm<T>(true, false, out.scale, A, Hb, keep, target);
          if (needPos) gemm<T>(true, false, out.scale, B, Hb, keep, posTarget);
          else if (weightPos) gemm<T>(true, false, out.scale, Ms.rowBlock(r0, r1), Hb, keep, posTarget);
        }
      });
    });
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
    const T lo = vFloor > T(0) ? vFloor : -std::numeric_limits<T>::infinity();  // 0: no clipping

    withBetaPower(beta, [&](auto pw) {
      parallelFor(parts, [&](int p) {
        const Index b0 = splitPoint(nBlocks, parts, p), b1 = splitPoint(nBlocks, parts, p + 1);
        for (Index blk = b0; blk < b1; ++blk) {
          const Index r0 = blk * rb, r1 = std::min(N, r0 + rb);
          Mat<T> A(bufA[p], r1 - r0, F);
          gemm<T>(false, true, T(1), H.rowBlock(r0, r1), W, T(0), A);
          double s = 0.0;
          for (Index i = 0; i < A.rows; ++i) {
            const T* x = X.row(r0 + i);
            const T* v = A.row(i);
            double rowSum = 0.0;
            if (weights.empty()) {
              for (Index j = 0; j < F; ++j)
                rowSum += divergenceTerm(pw, beta.value, double(x[j]), double(clipV(v[j], lo)));
            } else {
              const T* m = weights.row(r0 + i);
              for (Index j = 0; j < F; ++j)
                if (m[j] != T(0)) rowSum += double(m[j]) * divergenceTerm(pw, beta.value, double(x[j]), double(clipV(v[j], lo)));
            }
            s += rowSum;
          }
          blockSums[blk] = s;
        }
      });
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

  void muUpdate(CMat<T> factor, CMat<T> pos, CMat<T> neg, T eps, double gamma, Mat<T> out) override {
    withStepExponent(gamma, [&](auto step) {
      forEachRange(out.size(), [&](Index i0, Index i1) {
        muStepRange(step, factor.data + i0, pos.data + i0, neg.data + i0, eps, out.data + i0, i1 - i0);
      });
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

  // fn(i0, i1) over [0, n) in contiguous pieces, one per thread (all operands are dense).
  template <typename Fn>
  static void forEachRange(Index n, Fn&& fn) {
    const int parts = threadsFor(n / 4096, 4.0 * n);
    parallelFor(parts, [&](int p) { fn(splitPoint(n, parts, p), splitPoint(n, parts, p + 1)); });
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
