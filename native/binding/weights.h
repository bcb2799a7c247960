// The values of entry weights (finite and ≥ 0; 0 marks a missing entry), checked where they
// live and in one place for the kernels and the fit: on the host in a pass shared by the
// threads, on a device by the backend's scan (only its few numbers come back). The caller holds
// the device lock for device weights.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "binding/device.h"
#include "core/backend.h"
#include "cpu/parallel.h"

namespace bnmf::binding {

// M dense (rows × cols, ld = cols); a RangeError naming options.weights and the first bad entry.
template <typename T>
void checkWeightValues(Napi::Env env, CMat<T> M, Device device) {
  const Index n = M.rows * M.cols;
  Index bad = -1;
  double value = 0;
  if (device != Device::Cpu) {
    const DataIssue issue = backendFor<T>(device).scan(M, false);
    bad = issue.index, value = issue.value;
  } else {
    // A branch-free pass (it vectorises; memory-bound, so shared by the threads); the entry is
    // looked for only when one is bad.
    const T top = std::numeric_limits<T>::max();
    const int parts = static_cast<int>(std::clamp<Index>(n >> 20, 1, cpu::maxThreads()));
    std::vector<char> partOk(static_cast<std::size_t>(parts), 1);
    cpu::parallelFor(parts, [&](int p) {
      bool good = true;
      for (Index i = cpu::splitPoint(n, parts, p), e = cpu::splitPoint(n, parts, p + 1); i < e; ++i)
        good &= (M.data[i] >= T(0)) & (M.data[i] <= top);
      partOk[static_cast<std::size_t>(p)] = good;
    });
    if (std::all_of(partOk.begin(), partOk.end(), [](char g) { return g != 0; })) return;
    for (Index i = 0; i < n && bad < 0; ++i)
      if (!validEntry(M.data[i], false)) bad = i, value = double(M.data[i]);
  }
  if (bad < 0) return;
  std::ostringstream s;
  if (std::isnan(value)) s << "NaN";
  else if (std::isinf(value)) s << (value > 0 ? "Infinity" : "-Infinity");
  else s << value;
  throw Napi::RangeError::New(env, "options.weights: expected finite weights ≥ 0 (0 marks a missing entry), received " + s.str() +
                                       " at row " + std::to_string(bad / M.cols) + ", column " + std::to_string(bad % M.cols));
}

}  // namespace bnmf::binding
