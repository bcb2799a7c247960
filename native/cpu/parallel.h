// Runs fn(part) for part in [0, parts) on `parts` threads (the caller is one of them), with
// denormals flushed, and rethrows the first exception after all have finished. Threads are created per call: the
// kernels are long enough for that not to matter, and nothing outlives the call (no pool to
// shut down when a worker_thread exits).
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

// Threads the elementwise and GEMM work may use: BETANMF_NUM_THREADS, else the cores.
int maxThreads();
void setMaxThreads(int n);

template <typename Fn>
void parallelFor(int parts, Fn&& fn) {
  if (parts <= 1) {
    FlushDenormals ftz;
    if (parts == 1) fn(0);
    return;
  }
  std::vector<std::exception_ptr> errors(parts);
  std::vector<std::thread> threads;
  threads.reserve(parts - 1);
  auto guarded = [&](int p) {
    try {
      FlushDenormals ftz;
      fn(p);
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  for (int p = 1; p < parts; ++p) {
    try {
      threads.emplace_back(guarded, p);
    } catch (...) {
      guarded(p);  // no thread to be had: do that part here
    }
  }
  guarded(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Splits [0, n) into `parts` contiguous ranges; returns the start of range p.
inline long long splitPoint(long long n, int parts, int p) { return n * p / parts; }

}  // namespace bnmf::cpu
