// The fit state (core/fit_state.h) on the CPU backend without Node: a mu_batch fit at β = 1
// lowers the cost every epoch (MU's guarantee), a snapshot brings the state back exactly, the
// best factors are kept aside, and float and double fits agree to float precision. Built by
// CMake with -DBETANMF_NATIVE_TESTS=ON (target fit_state_test); exits non-zero on a failure.
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/fit_state.h"
#include "cpu/cpu_backend.h"

using namespace bnmf;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) ++failures, std::fprintf(stderr, "FAIL: %s\n", what);
}

// A positive N×F matrix of rank K plus a little structure (deterministic).
template <typename T>
std::vector<T> pattern(Index rows, Index cols, int seed) {
  std::vector<T> v(static_cast<std::size_t>(rows * cols));
  for (Index i = 0; i < rows * cols; ++i) v[std::size_t(i)] = T(0.25 + double((i * 7919 + seed * 104729) % 1000) / 1000.0);
  return v;
}

template <typename T>
std::vector<double> fit(int epochs) {
  const Index N = 50, F = 16, K = 3;
  const std::vector<T> X = pattern<T>(N, F, 1), W0 = pattern<T>(F, K, 2), H0 = pattern<T>(N, K, 3);
  FitState<T> s(Device::Cpu, cpu::backend<T>(), cpu::backend<double>(), nullptr, N, F, K);
  s.spec.beta = Beta::of(1.0);
  s.spec.batchSize = 20;
  s.spec.vFloor = T(std::ldexp(1.0, -23));
  s.allocateX(true);
  s.loadFrom(X.data(), N * F);
  check(s.xLoaded() && s.issue.index < 0 && s.issue.anyPositive, "X loaded and scanned");
  s.allocateFactors(CMat<T>(W0.data(), F, K), CMat<T>(H0.data(), N, K));
  std::vector<double> costs{s.cost()};
  EpochSpec<T> spec = s.spec;
  spec.endBatch = batchCount(N, spec.batchSize);  // a whole epoch per slice
  for (int e = 0; e < epochs; ++e) {
    check(s.runSlice(spec, {}, e == epochs / 2, true, s.X, s.H, false), "finite");
    costs.push_back(s.cost());
    if (e == 2) s.saveBest();
  }
  for (std::size_t e = 1; e < costs.size(); ++e) check(costs[e] <= costs[e - 1] * (1 + 1e-6), "the cost never rises (MU, β = 1)");
  check(costs.back() < 0.9 * costs.front(), "the cost falls");
  // The snapshot taken before epoch epochs/2: restoring it and running again gives the same cost.
  check(s.restore(), "a snapshot exists");
  check(s.runSlice(spec, {}, false, true, s.X, s.H, false), "finite after restore");
  check(s.cost() == costs[std::size_t(epochs / 2 + 1)], "a restored snapshot replays exactly");
  check(s.restoreBest() && s.cost() == costs[3], "the best factors come back");
  return costs;
}

}  // namespace

int main() {
  const std::vector<double> d = fit<double>(12), f = fit<float>(12);
  for (std::size_t e = 0; e < d.size(); ++e) check(std::fabs(d[e] - f[e]) <= 1e-4 * d[e], "float and double agree");
  std::printf("fit_state_test: cost %.6g → %.6g over %zu epochs, %d failure(s)\n", d.front(), d.back(), d.size() - 1, failures);
  return failures == 0 ? 0 : 1;
}
