// The native entry points of the kernels. Each reads its arguments into a Job (on the JS
// thread) and runs it now or on a worker thread. Argument order is private to lib/native.ts.
#include "binding/kernels.h"

#include <cmath>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/weights.h"
#include "core/solver.h"

namespace bnmf::binding {
namespace {

// X (N×F), W (F×K), H (N×K) and β, read from arguments first..first+6.
struct FactorArgs {
  ArrayArg X, W, H;
  Index N = 0, F = 0, K = 0;
  double beta = 2.0;

  FactorArgs(const Napi::CallbackInfo& info, std::size_t first) {
    X = arrayArg(info, first, "X");
    W = arrayArg(info, first + 1, "W");
    H = arrayArg(info, first + 2, "H");
    N = dimArg(info, first + 3, "N");
    F = dimArg(info, first + 4, "F");
    K = dimArg(info, first + 5, "K");
    beta = numberArg(info, first + 6, "beta");
    if (!std::isfinite(beta)) throw Napi::RangeError::New(info.Env(), "beta: expected a finite number");
    device = sameDevice(info.Env(), {&X, &W, &H});
  }
  Device device = Device::Cpu;
  std::vector<const ArrayArg*> inputs() const { return {&X, &W, &H}; }
  template <typename T>
  void views(Napi::Env env, CMat<T>& x, CMat<T>& w, CMat<T>& h) const {
    x = matArg<T>(env, X, N, F, "X");
    w = matArg<T>(env, W, F, K, "W");
    h = matArg<T>(env, H, N, K, "H");
  }
};

bool asyncFlag(const Napi::CallbackInfo& info) { return info[0].ToBoolean().Value(); }

// Runs body(backend) where the operands live (holding the device lock there) and waits for it.
template <typename T, typename Fn>
void onBackend(Device device, Fn&& body) {
  DeviceLock lock(device);
  Backend<T>& be = backendFor<T>(device);
  body(be);
  be.finish();
}

// Keeps the arrays' JS objects and any device memory behind them until the job ends.
void keepArgs(Job& job, std::initializer_list<const ArrayArg*> args) {
  for (const ArrayArg* a : args) {
    job.keep({a->value});
    job.hold(a->owner);
  }
}

// Calls make<float>() or make<double>() after the dtype of `lead`.
template <template <typename> class J, typename... A>
std::unique_ptr<Job> makeJob(const ArrayArg& lead, A&&... args) {
  if (lead.dtype == DType::Float32) return std::make_unique<J<float>>(std::forward<A>(args)...);
  return std::make_unique<J<double>>(std::forward<A>(args)...);
}

// The optional entry weights (N×F, like X; null = unweighted), their values checked where they
// live (binding/weights.h).
template <typename T>
CMat<T> weightsArg(Napi::Env env, const ArrayArg& m, Index N, Index F) {
  if (!m.data && m.length == 0) return CMat<T>();
  const CMat<T> M = matArg<T>(env, m, N, F, "options.weights");
  DeviceLock lock(m.device);
  checkWeightValues<T>(env, M, m.device);
  return M;
}

template <typename T>
Output<T> outputArg(Napi::Env env, const ArrayArg& a, Index rows, Index cols, const char* name,
                    const std::vector<const ArrayArg*>& inputs, bool elementwise) {
  if (!a.data && a.length == 0 && a.value.IsNull()) return Output<T>();
  return Output<T>(matArg<T>(env, a, rows, cols, name), needsScratch(a, inputs, elementwise));
}

// gradientH / gradientW and their _mu forms: the pos and neg parts, or neg − pos alone.
template <typename T>
class PartsJob final : public Job {
 public:
  PartsJob(const Napi::CallbackInfo& info, bool forW) : forW_(forW) {
    Napi::Env env = info.Env();
    FactorArgs a(info, 1);
    const Index rows = forW ? a.F : a.N;
    ArrayArg pos = arrayArg(info, 8, "pos", true), neg = arrayArg(info, 9, "neg", true),
             diff = arrayArg(info, 10, "diff", true), m = arrayArg(info, 11, "options.weights", true);
    stage(asyncFlag(info), {&a.X, &a.W, &a.H, &m, &pos, &neg, &diff}, {&pos, &neg, &diff},
          {"options.out.pos", "options.out.neg", "options.out"});
    a.views<T>(env, X_, W_, H_);
    M_ = weightsArg<T>(env, m, a.N, a.F);
    beta_ = Beta::of(a.beta);
    std::vector<const ArrayArg*> inputs = a.inputs();
    inputs.push_back(&m);
    pos_ = outputArg<T>(env, pos, rows, a.K, "pos", inputs, false);
    neg_ = outputArg<T>(env, neg, rows, a.K, "neg", inputs, false);
    diff_ = outputArg<T>(env, diff, rows, a.K, "diff", inputs, false);
    device_ = sameDevice(env, {&a.X, &m, &pos, &neg, &diff});
    keepArgs(*this, {&a.X, &a.W, &a.H, &m, &pos, &neg, &diff});
  }
  void execute() override {
    onBackend<T>(device_, [&](Backend<T>& be) {
      Parts<T> parts;
      parts.weights = M_;
      parts.pos = pos_.prepare(be);
      parts.neg = neg_.prepare(be);
      parts.diff = diff_.prepare(be);
      if (forW_) be.wParts(X_, W_, H_, beta_, parts);
      else be.hParts(X_, W_, H_, beta_, parts);
      pos_.commit(be);
      neg_.commit(be);
      diff_.commit(be);
    });
  }

 private:
  bool forW_;
  Device device_ = Device::Cpu;
  CMat<T> X_, W_, H_, M_;
  Beta beta_;
  Output<T> pos_, neg_, diff_;
};

template <typename T>
class MuUpdateHJob final : public Job {
 public:
  explicit MuUpdateHJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FactorArgs a(info, 1);
    eps_ = static_cast<T>(numberArg(info, 8, "eps"));
    ArrayArg hOut = arrayArg(info, 9, "out.H"), pos = arrayArg(info, 10, "out.pos"), neg = arrayArg(info, 11, "out.neg");
    ArrayArg m = arrayArg(info, 12, "options.weights", true);
    stage(asyncFlag(info), {&a.X, &a.W, &a.H, &m, &hOut, &pos, &neg}, {&hOut, &pos, &neg}, {"options.out.H", "options.out.pos", "options.out.neg"});
    a.views<T>(env, X_, W_, H_);
    M_ = weightsArg<T>(env, m, a.N, a.F);
    beta_ = Beta::of(a.beta);
    // H may be updated in place (exactly): the parts are complete before H is read for the
    // update, and the update is elementwise. A partial overlap with H goes through scratch.
    std::vector<const ArrayArg*> hInputs = {&a.X, &a.W, &m, &pos, &neg};
    hOut_ = outputArg<T>(env, hOut, a.N, a.K, "out.H", hInputs, false);
    if (hOut.overlaps(a.H) && !hOut.sameRange(a.H)) hOut_ = outputArg<T>(env, hOut, a.N, a.K, "out.H", {&a.H}, false);
    std::vector<const ArrayArg*> inputs = a.inputs();
    inputs.push_back(&m);
    pos_ = outputArg<T>(env, pos, a.N, a.K, "out.pos", inputs, false);
    neg_ = outputArg<T>(env, neg, a.N, a.K, "out.neg", inputs, false);
    device_ = sameDevice(env, {&a.X, &m, &hOut, &pos, &neg});
    keepArgs(*this, {&a.X, &a.W, &a.H, &m, &hOut, &pos, &neg});
  }
  void execute() override {
    onBackend<T>(device_, [&](Backend<T>& be) {
      Mat<T> pos = pos_.prepare(be), neg = neg_.prepare(be);
      Mat<T> h = hOut_.prepare(be);
      muUpdateH(be, X_, W_, H_, beta_, eps_, h, pos, neg, M_);
      pos_.commit(be);
      neg_.commit(be);
      hOut_.commit(be);
    });
  }

 private:
  Device device_ = Device::Cpu;
  CMat<T> X_, W_, H_, M_;
  Beta beta_;
  T eps_ = 0;
  Output<T> hOut_, pos_, neg_;
};

template <typename T>
class DivergenceJob final : public Job {
 public:
  explicit DivergenceJob(const Napi::CallbackInfo& info) {
    FactorArgs a(info, 1);
    ArrayArg m = arrayArg(info, 9, "options.weights", true);
    stage(asyncFlag(info), {&a.X, &a.W, &a.H, &m}, {}, {});
    a.views<T>(info.Env(), X_, W_, H_);
    M_ = weightsArg<T>(info.Env(), m, a.N, a.F);
    beta_ = Beta::of(a.beta);
    vFloor_ = static_cast<T>(numberArg(info, 8, "vFloor"));
    // The penalties (a fit's objective; absent for the public kernel).
    if (info.Length() > 10 && !info[10].IsUndefined()) {
      penalty_.alphaW = numberArg(info, 10, "alphaW");
      penalty_.alphaH = numberArg(info, 11, "alphaH");
      penalty_.l1Ratio = numberArg(info, 12, "l1Ratio");
    }
    device_ = sameDevice(info.Env(), {&a.X, &a.W, &a.H, &m});
    keepArgs(*this, {&a.X, &a.W, &a.H, &m});
  }
  void execute() override {
    onBackend<T>(device_, [&](Backend<T>& be) { value_ = objective<T>(be, X_, W_, H_, beta_, vFloor_, M_, penalty_); });
  }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, value_); }

 private:
  CMat<T> X_, W_, H_, M_;
  Beta beta_;
  T vFloor_ = 0;
  Penalty penalty_;
  double value_ = 0;
  Device device_ = Device::Cpu;
};

// The GEMMs of one MU iteration (H parts, then W parts) with the elementwise work left out:
// the floor that `betanmf bench` prints next to the real iteration.
template <typename T>
class FloorJob final : public Job {
 public:
  explicit FloorJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FactorArgs a(info, 1);
    ArrayArg hp = arrayArg(info, 8, "hPos"), hn = arrayArg(info, 9, "hNeg"), wp = arrayArg(info, 10, "wPos"),
             wn = arrayArg(info, 11, "wNeg");
    stage(asyncFlag(info), {&a.X, &a.W, &a.H, &hp, &hn, &wp, &wn}, {&hp, &hn, &wp, &wn}, {"hPos", "hNeg", "wPos", "wNeg"});
    a.views<T>(env, X_, W_, H_);
    beta_ = Beta::of(a.beta);
    h_.pos = matArg<T>(env, hp, a.N, a.K, "hPos");
    h_.neg = matArg<T>(env, hn, a.N, a.K, "hNeg");
    w_.pos = matArg<T>(env, wp, a.F, a.K, "wPos");
    w_.neg = matArg<T>(env, wn, a.F, a.K, "wNeg");
    device_ = sameDevice(env, {&a.X, &hp, &hn, &wp, &wn});
    keepArgs(*this, {&a.X, &a.W, &a.H, &hp, &hn, &wp, &wn});
  }
  void execute() override {
    onBackend<T>(device_, [&](Backend<T>& be) {
      be.gemmFloor(X_, W_, H_, beta_, h_, w_);
    });
  }

 private:
  Device device_ = Device::Cpu;
  CMat<T> X_, W_, H_;
  Beta beta_;
  Parts<T> h_, w_;
};

// C = scale·op(A)·op(B) + keep·C on row-major arrays (used by the solver's initialisation;
// BLAS calls these alpha and beta, names taken here by β).
template <typename T>
class GemmJob final : public Job {
 public:
  explicit GemmJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ArrayArg a = arrayArg(info, 1, "A"), b = arrayArg(info, 2, "B"), c = arrayArg(info, 3, "C");
    if (a.device != Device::Cpu || b.device != Device::Cpu || c.device != Device::Cpu) throw Napi::TypeError::New(env, "gemm: expected host typed arrays");
    stage(asyncFlag(info), {&a, &b, &c}, {&c}, {"C"});
    const Index m = dimArg(info, 4, "m"), n = dimArg(info, 5, "n"), k = dimArg(info, 6, "k");
    transA_ = info[7].ToBoolean().Value();
    transB_ = info[8].ToBoolean().Value();
    scale_ = static_cast<T>(numberArg(info, 9, "scale"));
    keep_ = static_cast<T>(numberArg(info, 10, "keep"));
    A_ = transA_ ? matArg<T>(env, a, k, m, "A") : matArg<T>(env, a, m, k, "A");
    B_ = transB_ ? matArg<T>(env, b, n, k, "B") : matArg<T>(env, b, k, n, "B");
    if (needsScratch(c, {&a, &b}, false)) throw Napi::RangeError::New(env, "C: must not share memory with A or B");
    C_ = matArg<T>(env, c, m, n, "C");
    keep({a.value, b.value, c.value});
  }
  void execute() override {
    onBackend<T>(Device::Cpu, [&](Backend<T>& be) { be.product(transA_, transB_, scale_, A_, B_, keep_, C_); });
  }

 private:
  Mat<T> A_, B_, C_;
  bool transA_ = false, transB_ = false;
  T scale_ = 1, keep_ = 0;
};

// muUpdate (a, b, c = factor, pos, neg) and updateGrad (a, b, c = grad, old, new): elementwise.
template <typename T>
class ElementwiseJob final : public Job {
 public:
  ElementwiseJob(const Napi::CallbackInfo& info, bool isMu) : isMu_(isMu) {
    Napi::Env env = info.Env();
    const char* names[3] = {isMu ? "factor" : "grad", isMu ? "pos" : "gradOld", isMu ? "neg" : "gradNew"};
    ArrayArg a = arrayArg(info, 1, names[0]), b = arrayArg(info, 2, names[1]), c = arrayArg(info, 3, names[2]);
    eps_ = static_cast<T>(numberArg(info, 4, "eps"));
    ArrayArg out = arrayArg(info, 5, "out");
    stage(asyncFlag(info), {&a, &b, &c, &out}, {&out}, {"options.out"});
    const Index n = static_cast<Index>(a.length);
    a_ = matArg<T>(env, a, 1, n, names[0]);
    b_ = matArg<T>(env, b, 1, n, names[1]);
    c_ = matArg<T>(env, c, 1, n, names[2]);
    out_ = outputArg<T>(env, out, 1, n, "out", {&a, &b, &c}, true);
    device_ = sameDevice(env, {&a, &b, &c, &out});
    keepArgs(*this, {&a, &b, &c, &out});
  }
  void execute() override {
    onBackend<T>(device_, [&](Backend<T>& be) {
      Mat<T> o = out_.prepare(be);
      if (isMu_) be.muUpdate(a_, b_, c_, eps_, 1.0, o);
      else be.updateGrad(a_, b_, c_, o);
      out_.commit(be);
    });
  }

 private:
  Device device_ = Device::Cpu;
  bool isMu_;
  CMat<T> a_, b_, c_;
  T eps_ = 0;
  Output<T> out_;
};

// Throws `e` into JS and lets no C++ exception out. While a worker thread is being terminated
// every N-API call fails; node-addon-api's own handler would then throw again from inside its
// catch block, which ends in std::terminate (an abort of the whole process).
void throwIntoJs(Napi::Env env, const Napi::Error& e) noexcept {
  try {
    napi_value v = e.Value();
    if (v) napi_throw(env, v);
  } catch (...) {
  }
}

// Wraps an entry point so any C++ exception becomes a JS exception, never an abort.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    return Fn(info);
  } catch (const Napi::Error& e) {
    throwIntoJs(env, e);
  } catch (...) {
    try {
      throwIntoJs(env, toJsError(env, "betanmf", std::current_exception()));
    } catch (...) {
    }
  }
  return Napi::Value();
}

// The public name: gradientH(W) writes the difference (argument 10), gradientH(W)Mu the parts.
std::string partsName(const Napi::CallbackInfo& info, const char* base) {
  const bool difference = !(info[10].IsNull() || info[10].IsUndefined());
  return std::string(base) + (difference ? "" : "Mu");
}
Napi::Value hParts(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<PartsJob>(arrayArg(info, 1, "X"), info, false), asyncFlag(info), partsName(info, "gradientH"));
}
Napi::Value wParts(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<PartsJob>(arrayArg(info, 1, "X"), info, true), asyncFlag(info), partsName(info, "gradientW"));
}
Napi::Value muUpdateHEntry(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<MuUpdateHJob>(arrayArg(info, 1, "X"), info), asyncFlag(info), "muUpdateH");
}
Napi::Value betaDivergence(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<DivergenceJob>(arrayArg(info, 1, "X"), info), asyncFlag(info), "betaDivergence");
}
Napi::Value gemmFloor(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<FloorJob>(arrayArg(info, 1, "X"), info), asyncFlag(info), "bench");
}
Napi::Value gemm(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<GemmJob>(arrayArg(info, 1, "A"), info), asyncFlag(info), "gemm");
}
Napi::Value muUpdate(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<ElementwiseJob>(arrayArg(info, 1, "factor"), info, true), asyncFlag(info), "muUpdate");
}
Napi::Value updateGrad(const Napi::CallbackInfo& info) {
  return run(info.Env(), makeJob<ElementwiseJob>(arrayArg(info, 1, "grad"), info, false), asyncFlag(info), "updateGradW");
}

}  // namespace

void registerKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("hParts", Napi::Function::New<guarded<hParts>>(env, "hParts"));
  exports.Set("wParts", Napi::Function::New<guarded<wParts>>(env, "wParts"));
  exports.Set("muUpdateH", Napi::Function::New<guarded<muUpdateHEntry>>(env, "muUpdateH"));
  exports.Set("betaDivergence", Napi::Function::New<guarded<betaDivergence>>(env, "betaDivergence"));
  exports.Set("gemmFloor", Napi::Function::New<guarded<gemmFloor>>(env, "gemmFloor"));
  exports.Set("gemm", Napi::Function::New<guarded<gemm>>(env, "gemm"));
  exports.Set("muUpdate", Napi::Function::New<guarded<muUpdate>>(env, "muUpdate"));
  exports.Set("updateGrad", Napi::Function::New<guarded<updateGrad>>(env, "updateGrad"));
  exports.Set("trimCopies", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    trimCopyPool();
    return info.Env().Undefined();
  }, "trimCopies"));
}

}  // namespace bnmf::binding
