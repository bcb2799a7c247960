// Parallel loops over a persistent pool of worker threads, and the denormal guard every kernel
// thread runs under.
#pragma once
#include <exception>
#include <thread>
#include <vector>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define BNMF_HAVE_MXCSR 1
#endif

namespace bnmf::cpu {

// Flushes denormal numbers to zero on this thread while in scope (x86: MXCSR FTZ and DAZ),
// restoring the caller's setting after. Multiplicative updates drive entries towards zero;
// once they reach the denormal range every operation on them is ~100× slower, and values
// below 1e-38 (float) carry nothing an NMF needs.
class FlushDenormals {
 public:
#ifdef BNMF_HAVE_MXCSR
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

// Threads the elementwise and GEMM work may use: BETANMF_NUM_THREADS, else the cores; never
// more than 4 per core (setMaxThreads and the variable are capped there).
int maxThreads();
void setMaxThreads(int n);

// Runs part(p) for every p in [0, parts): the caller and the process's pool of worker
// threads take parts from a shared counter. Returns false, running nothing, when the pool is
// already serving another call (the caller then runs the parts itself).
bool runOnPool(int parts, void (*part)(void*, int), void* context);

// Runs fn(part) for part in [0, parts) on up to `parts` threads (the caller is one of them,
// the others come from a persistent pool, so short calls do not pay for thread creation),
// with denormals flushed, and rethrows the first exception after all parts have finished.
template <typename Fn>
void parallelFor(int parts, Fn&& fn) {
  if (parts <= 1) {
    FlushDenormals ftz;
    if (parts == 1) fn(0);
    return;
  }
  struct Context {
    Fn* fn;
    std::vector<std::exception_ptr> errors;
  } ctx{&fn, std::vector<std::exception_ptr>(parts)};
  auto part = [](void* c, int p) {
    auto* x = static_cast<Context*>(c);
    try {
      FlushDenormals ftz;
      (*x->fn)(p);
    } catch (...) {
      x->errors[p] = std::current_exception();
    }
  };
  if (!runOnPool(parts, part, &ctx))
    for (int p = 0; p < parts; ++p) part(&ctx, p);
  for (auto& e : ctx.errors)
    if (e) std::rethrow_exception(e);
}

// Splits [0, n) into `parts` contiguous ranges; returns the start of range p.
inline long long splitPoint(long long n, int parts, int p) { return n * p / parts; }

}  // namespace bnmf::cpu
