// Reading a spec object by name (new Fit(spec), Fit#run's overrides, combineShards): each field
// checked for its type and range, the error naming the call and the field. The TypeScript layer
// has validated the options already; this is the second line that keeps a wrong call from JS
// away from memory it should not touch.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "binding/args.h"
#include "core/solver.h"

namespace bnmf::binding {

class SpecReader {
 public:
  // `what` prefixes every message ("Fit", "combineShards").
  SpecReader(Napi::Object o, const char* what) : o_(o), what_(what) {}

  Napi::Env env() const { return o_.Env(); }
  Napi::Value field(const char* key) const { return o_.Get(key); }
  bool has(const char* key) const { return !field(key).IsUndefined(); }

  double number(const char* key) const;
  double number(const char* key, double def) const;
  // An integer in [0, 2^31 − 1]; required when def < 0.
  Index index(const char* key, double def = -1) const;
  bool flag(const char* key, bool def) const;
  std::string string(const char* key, const char* def) const;
  // An array field read as an ArrayArg (the same checks as the kernels' arguments).
  ArrayArg array(const char* key, bool optional = false) const;
  // A Uint32Array copied into `out` (null/undefined → empty) of `length` entries, each below `bound`.
  void order(const char* key, std::size_t length, std::uint32_t bound, std::vector<std::uint32_t>& out) const;
  // fixedComponents: an array of distinct column indices in [0, K) → K flags (empty when none).
  void fixedColumns(Index K, std::vector<std::uint8_t>& flags) const;
  // A solver by name (core/solver.h's table) into `out`; `def` when absent.
  void solver(const char* key, const char* def, SolverKind& out) const;
  // update: 'mm' (default: the steps' guards, core/solver.h) or 'heuristic' (none); true for 'mm'.
  bool stepGuards() const;

  // The solver's options of a fit: beta, solver, batchSize, eps, gamma, forget, vFloor, updateH,
  // updateW, averageTargets, update (the guards), stepFloor, partialData and the penalties.
  template <typename T>
  void solverOptions(EpochSpec<T>& p) const;
  // A slice's overrides of those (Fit#run): solver, batchSize, updateH, updateW, forget, and
  // whether the slice opens and closes the epoch (starts, ends).
  template <typename T>
  void sliceOverrides(EpochSpec<T>& p) const;

  Napi::Error typeError(const std::string& message) const;
  Napi::Error rangeError(const std::string& message) const;

 private:
  Napi::Object o_;
  const char* what_;
};

}  // namespace bnmf::binding
