// The products of one MU iteration (β ∉ {1, 2}: V, then both parts, for H and for W) at N×F×K in
// float32 on two threads, under several schedules, with the same statically linked OpenBLAS as
// the addon (single-threaded inside each of our threads, as the addon runs it). Also the
// two-thread sgemm peak of the same kernels, so each schedule reads as a fraction of it.
//
//   bench/gemm_schedule.sh [N F K] [rounds]    (builds this file, then runs it)
//   bench/gemm_schedule.sh peak [reps]         (the two-thread sgemm peak alone)
//
// Schedules, per row block of `rb` rows (blocks shared evenly between the threads):
//   separate  H: V_b = H_b·Wᵀ; neg_b = A·W; pos_b = B·W            (what cpu_backend.cpp does)
//             W: per thread a slice of F; V = H_b·W_sᵀ; neg_s += Aᵀ·H_b; pos_s += Bᵀ·H_b
//   stacked   the two part products as one call: [A; B]·W for H, [A B]ᵀ·H_b for W
// Prints JSON: { core, peakGflops, schedules: [{ part, rows, stacked, ms, gflops, ofPeak }] }, medians
// over rounds in which every case runs once (ofPeak taken within each round; Min/Max: the spread;
// msMin, the fastest round, is the least disturbed by other load on a shared machine).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);

using Clock = std::chrono::steady_clock;

static void sgemm(bool ta, bool tb, long m, long n, long k, const float* A, long lda, const float* B, long ldb,
                  float beta, float* C, long ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, lda,
              B, ldb, beta, C, ldc);
}

// Wall time (ms) of fn(thread) run on two threads at once.
static double twoThreads(const std::function<void(int)>& fn) {
  const auto t0 = Clock::now();
  std::thread other(fn, 1);
  fn(0);
  other.join();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "peak") {  // bench/gemm_schedule.sh peak [reps]: the peak alone
    openblas_set_num_threads(1);
    const long P = 1536;
    std::vector<float> A(P * P, 0.5f), B(P * P, 0.25f), C0(P * P), C1(P * P);
    std::vector<double> gf;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
    for (int r = 0; r <= reps; ++r) {
      const double ms = twoThreads([&](int t) { sgemm(false, false, P, P, P, A.data(), P, B.data(), P, 0.0f, (t ? C1 : C0).data(), P); });
      if (r > 0) gf.push_back(2 * 2.0 * P * P * P / ms / 1e6);
    }
    std::printf("{\"core\": \"%s\", \"peakGflops\": %.1f, \"peakGflopsMax\": %.1f}\n", openblas_get_corename(), median(gf),
                *std::max_element(gf.begin(), gf.end()));
    return 0;
  }
  const long N = argc > 3 ? std::atol(argv[1]) : 10000, F = argc > 3 ? std::atol(argv[2]) : 513,
             K = argc > 3 ? std::atol(argv[3]) : 50;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 7;
  openblas_set_num_threads(1);

  std::mt19937 gen(1);
  std::uniform_real_distribution<float> U(0.1f, 1.0f);
  auto filled = [&](long n) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = U(gen);
    return v;
  };
  const std::vector<float> W = filled(F * K), H = filled(N * K);
  std::vector<float> outH = filled(2 * N * K), outW = filled(2 * 2 * F * K);

  // Every case runs once per round, rounds interleaved, so that load from other processes on the
  // machine hits all alike; each case's fraction of the peak is taken within its round.
  struct Case {
    std::string part;
    long rows;
    bool stacked;
    std::function<void(int)> fn;
    std::vector<double> ms, ofPeak;
  };
  std::vector<Case> cases;

  // Peak: each thread one large square sgemm.
  const long P = 1536;
  const std::vector<float> PA = filled(P * P), PB = filled(P * P);
  std::vector<float> PC0(P * P), PC1(P * P);
  auto peakRun = [&](int t) { sgemm(false, false, P, P, P, PA.data(), P, PB.data(), P, 0.0f, (t ? PC1 : PC0).data(), P); };

  const long rowsList[] = {128, 256, 512, 1024};
  std::vector<std::vector<float>> buf(2, filled(2 * 1024 * std::max(F, 1L)));
  for (long rb : rowsList) {
    for (bool stacked : {false, true}) {
      // H part: blocks of rows of H, shared evenly.
      cases.push_back({"H", rb, stacked, [&, rb, stacked](int t) {
        const long nBlocks = (N + rb - 1) / rb;
        float* A = buf[t].data();
        for (long blk = nBlocks * t / 2; blk < nBlocks * (t + 1) / 2; ++blk) {
          const long r0 = blk * rb, n = std::min(N, r0 + rb) - r0;
          float* B = A + (stacked ? n : rb) * F;  // stacked: [A; B] contiguous
          sgemm(false, true, n, F, K, H.data() + r0 * K, K, W.data(), K, 0.0f, A, F);
          if (stacked) {
            sgemm(false, false, 2 * n, K, F, A, F, W.data(), K, 0.0f, outH.data() + 2 * r0 * K, K);
          } else {
            sgemm(false, false, n, K, F, A, F, W.data(), K, 0.0f, outH.data() + r0 * K, K);
            sgemm(false, false, n, K, F, B, F, W.data(), K, 0.0f, outH.data() + (N + r0) * K, K);
          }
        }
      }, {}, {}});
      // W part: each thread a slice of F, row blocks over N accumulated.
      cases.push_back({"W", rb, stacked, [&, rb, stacked](int t) {
        const long f0 = F * t / 2, nf = F * (t + 1) / 2 - f0;
        float* A = buf[t].data();
        float* target = outW.data() + 2 * f0 * K;
        for (long r0 = 0; r0 < N; r0 += rb) {
          const long n = std::min(N, r0 + rb) - r0;
          const float keep = r0 == 0 ? 0.0f : 1.0f;
          if (stacked) {  // A and B side by side: rows of 2·nf, [A B]ᵀ·H_b is 2nf×K
            sgemm(false, true, n, nf, K, H.data() + r0 * K, K, W.data() + f0 * K, K, 0.0f, A, 2 * nf);
            sgemm(true, false, 2 * nf, K, n, A, 2 * nf, H.data() + r0 * K, K, keep, target, K);
          } else {
            float* B = A + rb * nf;
            sgemm(false, true, n, nf, K, H.data() + r0 * K, K, W.data() + f0 * K, K, 0.0f, A, nf);
            sgemm(true, false, nf, K, n, A, nf, H.data() + r0 * K, K, keep, target, K);
            sgemm(true, false, nf, K, n, B, nf, H.data() + r0 * K, K, keep, target + nf * K, K);
          }
        }
      }, {}, {}});
    }
  }

  const double flopsPart = 6.0 * N * F * K;  // V and the two part products
  std::vector<double> peaks;
  for (int r = 0; r <= reps; ++r) {  // round 0 warms up
    const double peakMs = twoThreads(peakRun);
    const double peak = 2 * 2.0 * P * P * P / peakMs / 1e6;
    if (r > 0) peaks.push_back(peak);
    for (Case& c : cases) {
      const double ms = twoThreads(c.fn);
      if (r == 0) continue;
      c.ms.push_back(ms);
      c.ofPeak.push_back(flopsPart / ms / 1e6 / peak);
    }
  }

  std::printf("{\"core\": \"%s\", \"N\": %ld, \"F\": %ld, \"K\": %ld, \"rounds\": %d, \"peakGflops\": %.1f, "
              "\"peakGflopsMin\": %.1f, \"peakGflopsMax\": %.1f, \"schedules\": [",
              openblas_get_corename(), N, F, K, reps, median(peaks), *std::min_element(peaks.begin(), peaks.end()),
              *std::max_element(peaks.begin(), peaks.end()));
  bool first = true;
  for (const Case& c : cases) {
    const double ms = median(c.ms);
    std::printf("%s\n  {\"part\": \"%s\", \"rows\": %ld, \"stacked\": %s, \"ms\": %.3f, \"gflops\": %.1f, "
                "\"ofPeak\": %.3f, \"ofPeakMin\": %.3f, \"ofPeakMax\": %.3f, \"msMin\": %.3f}",
                first ? "" : ",", c.part.c_str(), c.rows, c.stacked ? "true" : "false", ms, flopsPart / ms / 1e6,
                median(c.ofPeak), *std::min_element(c.ofPeak.begin(), c.ofPeak.end()),
                *std::max_element(c.ofPeak.begin(), c.ofPeak.end()), *std::min_element(c.ms.begin(), c.ms.end()));
    first = false;
  }
  std::printf("\n]}\n");
  return 0;
}
