#include "binding/fit_spec.h"

#include <algorithm>
#include <cmath>

namespace bnmf::binding {

Napi::Error SpecReader::typeError(const std::string& message) const {
  return Napi::TypeError::New(env(), std::string(what_) + ": " + message);
}
Napi::Error SpecReader::rangeError(const std::string& message) const {
  return Napi::RangeError::New(env(), std::string(what_) + ": " + message);
}

double SpecReader::number(const char* key) const {
  Napi::Value v = field(key);
  if (!v.IsNumber()) throw typeError(std::string(key) + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

double SpecReader::number(const char* key, double def) const { return has(key) ? number(key) : def; }

Index SpecReader::index(const char* key, double def) const {
  const double d = def >= 0 ? number(key, def) : number(key);
  if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0)
    throw rangeError(std::string(key) + ": expected an integer in [0, 2^31 − 1]");
  return static_cast<Index>(d);
}

bool SpecReader::flag(const char* key, bool def) const {
  Napi::Value v = field(key);
  return v.IsUndefined() ? def : v.ToBoolean().Value();
}

std::string SpecReader::string(const char* key, const char* def) const {
  Napi::Value v = field(key);
  if (v.IsUndefined()) return def;
  if (!v.IsString()) throw typeError(std::string(key) + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

ArrayArg SpecReader::array(const char* key, bool optional) const { return arrayValue(env(), field(key), key, optional); }

void SpecReader::order(const char* key, std::size_t length, std::uint32_t bound, std::vector<std::uint32_t>& out) const {
  Napi::Value v = field(key);
  out.clear();
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw typeError(std::string(key) + ": expected a Uint32Array or null");
  auto a = v.As<Napi::Uint32Array>();
  if (a.ElementLength() != length) throw rangeError(std::string(key) + ": expected " + std::to_string(length) + " entries");
  out.assign(a.Data(), a.Data() + length);
  for (std::uint32_t i : out)
    if (i >= bound) throw rangeError(std::string(key) + ": index out of range");
}

void SpecReader::fixedColumns(Index K, std::vector<std::uint8_t>& flags) const {
  Napi::Value v = field("fixedComponents");
  flags.clear();
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsArray()) throw typeError("fixedComponents: expected an array of column indices");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() == 0) return;
  flags.assign(static_cast<std::size_t>(K), 0);
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < double(K) && d == std::floor(d)) || flags[std::size_t(d)])
      throw rangeError("fixedComponents: expected distinct integers in [0, K)");
    flags[std::size_t(d)] = 1;
  }
}

void SpecReader::solver(const char* key, const char* def, SolverKind& out) const {
  const std::string name = string(key, def);
  if (!solverByName(name.c_str(), out)) throw rangeError(std::string(key) + ": unknown solver '" + name + "'");
}

bool SpecReader::stepGuards() const {
  const std::string rule = string("update", "mm");
  if (rule != "mm" && rule != "heuristic") throw rangeError("update: expected 'mm' or 'heuristic', received '" + rule + "'");
  return rule == "mm";
}

template <typename T>
void SpecReader::solverOptions(EpochSpec<T>& p) const {
  p.beta = Beta::of(number("beta"));
  if (!std::isfinite(p.beta.value)) throw rangeError("beta: expected a finite number");
  solver("solver", "mu_batch", p.solver);
  p.batchSize = std::max<Index>(1, index("batchSize", 100));
  p.eps = static_cast<T>(number("eps", 1e-10));
  p.gamma = number("gamma", 1.0);
  p.forget = static_cast<T>(number("forget", 1.0));
  p.vFloor = static_cast<T>(number("vFloor", 0.0));
  p.updateH = flag("updateH", true);
  p.updateW = flag("updateW", true);
  p.averageTargets = flag("averageTargets", false);
  p.guarded = stepGuards();
  p.stepFloor = static_cast<T>(number("stepFloor", double(p.stepFloor)));
  p.partialData = flag("partialData", false);
  if (!(p.stepFloor >= 0 && p.stepFloor <= 1)) throw rangeError("stepFloor: expected a number in [0, 1]");
  p.sweeps = static_cast<int>(std::clamp<Index>(index("sweeps", 1), 1, 100));
  if (p.solver == SolverKind::Hals && p.beta.kind != BetaKind::Two) throw rangeError("solver 'hals': expected beta 2");
  p.penalty.alphaW = number("alphaW", 0.0);
  p.penalty.alphaH = number("alphaH", 0.0);
  p.penalty.l1Ratio = number("l1Ratio", 0.0);
  if (!(p.penalty.alphaW >= 0 && p.penalty.alphaH >= 0 && p.penalty.l1Ratio >= 0 && p.penalty.l1Ratio <= 1) ||
      !std::isfinite(p.penalty.alphaW) || !std::isfinite(p.penalty.alphaH))
    throw rangeError("alphaW, alphaH: expected finite numbers ≥ 0, l1Ratio one in [0, 1]");
}

template <typename T>
void SpecReader::sliceOverrides(EpochSpec<T>& p) const {
  if (has("solver")) {
    const std::string name = string("solver", "mu_batch");
    if (!solverByName(name.c_str(), p.solver)) throw Napi::RangeError::New(env(), "Fit.run: unknown solver '" + name + "'");
  }
  p.batchSize = std::max<Index>(1, index("batchSize", double(p.batchSize)));
  p.updateH = flag("updateH", p.updateH);
  p.updateW = flag("updateW", p.updateW);
  p.forget = static_cast<T>(number("forget", double(p.forget)));
  p.startsEpoch = flag("starts", true);
  p.endsEpoch = flag("ends", true);
}

template void SpecReader::solverOptions<float>(EpochSpec<float>&) const;
template void SpecReader::solverOptions<double>(EpochSpec<double>&) const;
template void SpecReader::sliceOverrides<float>(EpochSpec<float>&) const;
template void SpecReader::sliceOverrides<double>(EpochSpec<double>&) const;

}  // namespace bnmf::binding
