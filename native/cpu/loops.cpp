#include "cpu/loops.h"

#include "cpu/isa.h"
#include "cpu/vecmath.h"  // BNMF_HAVE_AVX512_LOOPS: whether the AVX2 and AVX-512 copies exist

namespace bnmf::cpu {

template <typename T>
const Loops<T>& loops() {
  static const Loops<T>& chosen = [] () -> const Loops<T>& {
#if BNMF_HAVE_AVX512_LOOPS
    switch (loopIsa().active) {
      case LoopIsa::Avx512: return avx512::loops<T>();
      case LoopIsa::Avx2: return avx2::loops<T>();
      default: break;
    }
#endif
    return baseline::loops<T>();
  }();
  return chosen;
}

template const Loops<float>& loops<float>();
template const Loops<double>& loops<double>();

}  // namespace bnmf::cpu
