// The elementwise loops of the CPU backend, one table per compiled copy (as ggml's
// ggml-cpu/arch/): cpu/arch/baseline.cpp (x86-64), avx2.cpp (x86-64-v3: AVX2+FMA) and
// avx512.cpp (x86-64-v4), each built with its own target flags (CMakeLists.txt). The backend
// calls loops<T>(), the table of the copy cpu/isa.h chose for this process. Every copy computes
// core/beta.h's formulas: the same values to rounding, with the same special values.
#pragma once
#include "core/beta.h"
#include "core/matrix.h"

namespace bnmf::cpu {

template <typename T>
struct Loops {
  // The elementwise pass on one block: V (in A) and X → the parts the products need.
  //   both parts: A ← V^(β−2)⊙X, B ← V^(β−1)   (needPos false: B untouched; β=1's pos part is a broadcast)
  //   difference: A ← V^(β−2)⊙(X − V)
  // V is clipped at `floor` in the same pass (a floor of 0 means no clipping: the kernels'
  // exact formulas, for any sign).
  void (*parts)(const Beta& beta, bool difference, bool needPos, T floor, CMat<T> X, Mat<T> A, Mat<T> B);
  // The entry weights applied to a block's parts: a ← m·a (and b ← m·b when B is not empty),
  // exactly 0 where m = 0 (an infinite part at V = 0 included).
  void (*weigh)(CMat<T> M, Mat<T> A, Mat<T> B);
  // o = f ⊙ (n / (p + eps))^gamma over `count` entries (o may be f).
  void (*step)(double gamma, const T* f, const T* p, const T* n, T eps, T* o, Index count);
  // Σ d(x | v) over a block in double (V clipped at vFloor first; 0: no clipping), or with
  // weights M (not empty) Σ m·d(x | v), an entry of weight 0 counting 0. Summed in an order fixed
  // by the block's shape (the same in every copy).
  double (*divergence)(const Beta& beta, T vFloor, CMat<T> X, CMat<T> V, CMat<T> M);
};

// The copies compiled into this binary (avx2 and avx512 only where GCC targets x86-64).
namespace baseline {
template <typename T> const Loops<T>& loops();
}
namespace avx2 {
template <typename T> const Loops<T>& loops();
}
namespace avx512 {
template <typename T> const Loops<T>& loops();
}

// The table of the copy in use (cpu/isa.h: the CPU's best, or BETANMF_CPU_ISA).
template <typename T>
const Loops<T>& loops();

}  // namespace bnmf::cpu
