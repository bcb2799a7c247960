// combineShards(spec, W, parts, state?): the coordinator of a sharded fit (lib/queue/shards.ts)
// turns the shards' W parts into the next W through core/solver.h's combineShards, the solver's
// own W step, so no solver arithmetic lives in TypeScript. It runs synchronously on the CPU
// (F×K numbers) and always in double, whatever the fit's dtype: the coordinator's SAG state is
// kept in double between epochs, and float32 parts and W are converted exactly on the way in and
// rounded once on the way out.
//   spec   { F, K, solver, eps, gamma, forget?, averageTargets?, update?, rows? } (rows: each shard's
//          row count, asg/asag, whose W are averaged weighted by them)
//   W      the published W (F×K, float32 or float64), overwritten with the next one
//   parts  one typed array per shard, W's dtype: pos then neg (2·F·K) or empty for mu_batch,
//          gsg and gsag; the shard's W (F·K) for asg and asag
//   state  gsag's state between epochs, a Float64Array of 3·F·K + 1: the averaged parts (pos,
//          neg), the averaged steps and the SAG gain (zeros before the first epoch)
#include "binding/shards.h"

#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/fit_spec.h"
#include "binding/job.h"
#include "core/solver.h"

namespace bnmf::binding {
namespace {

// a's entries (float32 or float64) into dst, in double.
void toDouble(const ArrayArg& a, double* dst) {
  if (a.dtype == DType::Float32) std::copy_n(static_cast<const float*>(a.data), a.length, dst);
  else std::copy_n(static_cast<const double*>(a.data), a.length, dst);
}

Napi::Value combine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "combineShards: spec: expected an object");
  const SpecReader o(info[0].As<Napi::Object>(), "combineShards");
  const Index F = o.index("F"), K = o.index("K"), FK = F * K;
  EpochSpec<double> s;
  o.solver("solver", "mu_batch", s.solver);
  s.eps = o.number("eps");
  s.gamma = o.number("gamma");
  s.forget = o.number("forget", 1.0);
  s.averageTargets = o.flag("averageTargets", false) && s.solver == SolverKind::Gsag;
  s.guarded = o.stepGuards();
  if (!(s.forget > 0 && s.forget <= 1)) throw o.rangeError("forget: expected a number in (0, 1]");
  const bool local = s.solver == SolverKind::Asg || s.solver == SolverKind::Asag;

  const ArrayArg W = arrayArg(info, 1, "W");
  if (W.device != Device::Cpu || W.length != std::size_t(FK))
    throw Napi::RangeError::New(env, "combineShards: W: expected a host array of F×K = " + std::to_string(FK) + " elements");
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "combineShards: parts: expected an array of typed arrays");
  const Napi::Array list = info[2].As<Napi::Array>();
  std::vector<ArrayArg> parts;
  for (std::uint32_t i = 0; i < list.Length(); ++i) {
    const std::string name = "parts[" + std::to_string(i) + "]";
    parts.push_back(arrayValue(env, list.Get(i), name.c_str()));
    const ArrayArg& p = parts.back();
    if (p.device != Device::Cpu || p.dtype != W.dtype) throw Napi::TypeError::New(env, "combineShards: " + name + ": expected a host array of W's dtype");
    const bool fits = local ? p.length == std::size_t(FK) : p.length == 0 || p.length == std::size_t(2 * FK);
    if (!fits)
      throw Napi::RangeError::New(env, "combineShards: " + name + ": expected " + (local ? "F×K" : "2·F·K or 0") +
                                           " elements, received " + std::to_string(p.length));
  }
  std::vector<double> share;
  if (local) {
    const Napi::Value rows = o.field("rows");
    if (!rows.IsArray() || rows.As<Napi::Array>().Length() != parts.size())
      throw o.typeError("rows: expected an array of each shard's row count, one per part");
    double N = 0;
    for (std::uint32_t i = 0; i < parts.size(); ++i) {
      const Napi::Value r = rows.As<Napi::Array>().Get(i);
      share.push_back(r.IsNumber() ? r.As<Napi::Number>().DoubleValue() : -1);
      if (!(share.back() >= 0)) throw o.rangeError("rows: expected row counts ≥ 0");
      N += share.back();
    }
    for (double& x : share) x /= N;
  }
  double* state = nullptr;
  if (s.solver == SolverKind::Gsag) {
    const ArrayArg st = arrayArg(info, 3, "state");
    if (st.device != Device::Cpu || st.dtype != DType::Float64 || st.length != std::size_t(3 * FK + 1))
      throw Napi::RangeError::New(env, "combineShards: state: expected a Float64Array of 3·F·K + 1 elements");
    state = static_cast<double*>(st.data);
  }

  Backend<double>& be = backendFor<double>(Device::Cpu);
  std::unique_ptr<Buffer<double>> w = be.allocate(FK), sumPos = be.allocate(FK), sumNeg = be.allocate(FK),
                                  zeros = be.allocate(FK), ones = be.allocate(FK), sums = be.allocate(3);
  std::vector<std::unique_ptr<Buffer<double>>> held;
  std::vector<CMat<double>> views;
  for (const ArrayArg& p : parts) {
    if (p.length == 0) {
      views.emplace_back();
      continue;
    }
    if (p.dtype == DType::Float64) {
      views.emplace_back(static_cast<const double*>(p.data), Index(p.length) / K, K);
      continue;
    }
    held.push_back(be.allocate(Index(p.length)));
    toDouble(p, held.back()->data());
    views.emplace_back(held.back()->data(), Index(p.length) / K, K);
  }
  toDouble(W, w->data());
  be.zero(Mat<double>(zeros->data(), F, K));
  be.fill(Mat<double>(ones->data(), F, K), 1.0);
  SliceScratch<double> sc;
  sc.wPos = sumPos->data(), sc.wNeg = sumNeg->data(), sc.zeros = zeros->data(), sc.ones = ones->data(), sc.sums = sums->data();
  Mat<double> avgPos, avgNeg;
  if (state) {
    avgPos = Mat<double>(state, F, K), avgNeg = Mat<double>(state + FK, F, K);
    sc.lastStep = state + 2 * FK, sc.gain = state + 3 * FK;
  }
  combineShards(be, Mat<double>(w->data(), F, K), views, share, avgPos, avgNeg, s, sc);
  be.finish();
  if (W.dtype == DType::Float32) std::copy_n(w->data(), FK, static_cast<float*>(W.data));
  else std::copy_n(w->data(), FK, static_cast<double*>(W.data));
  return env.Undefined();
}

Napi::Value combineEntry(const Napi::CallbackInfo& info) {
  try {
    return combine(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(info.Env(), "combineShards", std::current_exception());
  }
}

}  // namespace

void registerShards(Napi::Env env, Napi::Object exports) {
  exports.Set("combineShards", Napi::Function::New(env, combineEntry, "combineShards"));
}

}  // namespace bnmf::binding
