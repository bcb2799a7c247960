// A fit as one native object. `new Fit(spec)` reads one options object by name (fit_spec.h)
// and builds the fit's state (core/fit_state.h) on the backend where it computes; the
// TypeScript driver then only schedules slices of epochs (run), costs, and reads the factors
// back. The memory is released by dispose() (or, as a safety net, when the object is
// collected). Jobs keep the state alive while they run, so dispose() during an async slice is
// safe. This file holds what touches JS: the caller's arrays, the jobs, the methods.
#include "binding/fit.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/fit_spec.h"
#include "binding/job.h"
#include "binding/weights.h"
#include "core/errors.h"
#include "core/fit_state.h"

namespace bnmf::binding {
namespace {

// ---- jobs ------------------------------------------------------------------------------------

template <typename T>
class RunJob final : public Job {
 public:
  RunJob(std::shared_ptr<FitState<T>> st, EpochSpec<T> spec, std::vector<std::uint32_t> order, bool snapshot,
         bool guard, CMat<T> X, Mat<T> H, bool cached)
      : st_(std::move(st)), spec_(spec), order_(std::move(order)), snapshot_(snapshot), guard_(guard), X_(X), H_(H),
        cached_(cached) {}
  void execute() override {
    DeviceLock lock(st_->device);
    finite_ = st_->runSlice(spec_, order_, snapshot_, guard_, X_, H_, cached_);
  }
  Napi::Value result(Napi::Env env) override { return Napi::Boolean::New(env, finite_); }

 private:
  std::shared_ptr<FitState<T>> st_;
  EpochSpec<T> spec_;
  std::vector<std::uint32_t> order_;
  bool snapshot_, guard_;
  CMat<T> X_;
  Mat<T> H_;
  bool cached_;
  bool finite_ = true;
};

template <typename T>
class CostJob final : public Job {
 public:
  explicit CostJob(std::shared_ptr<FitState<T>> st) : st_(std::move(st)) {}
  void execute() override {
    DeviceLock lock(st_->device);
    value_ = st_->cost();
  }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, value_); }

 private:
  std::shared_ptr<FitState<T>> st_;
  double value_ = 0;
};

// ---- the JS class ---------------------------------------------------------------------------


class Fit final : public Napi::ObjectWrap<Fit> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Fit",
                       {InstanceMethod<&Fit::guard<&Fit::run>>("run"), InstanceMethod<&Fit::guard<&Fit::cost>>("cost"),
                        InstanceMethod<&Fit::guard<&Fit::restore>>("restore"),
                        InstanceMethod<&Fit::guard<&Fit::saveBest>>("saveBest"),
                        InstanceMethod<&Fit::guard<&Fit::restoreBest>>("restoreBest"),
                        InstanceMethod<&Fit::guard<&Fit::read>>("read"),
                        InstanceMethod<&Fit::guard<&Fit::write>>("write"),
                        InstanceMethod<&Fit::guard<&Fit::loadX>>("load"),
                        InstanceMethod<&Fit::guard<&Fit::dataScan>>("dataScan"),
                        InstanceMethod<&Fit::guard<&Fit::gain>>("sagGain"),
                        InstanceMethod<&Fit::guard<&Fit::dispose>>("dispose")});
  }

  explicit Fit(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Fit>(info) {
    try {
      construct(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      throw toJsError(info.Env(), "Fit", std::current_exception());
    }
  }

 private:
  // Every method behind the same exception guard: nothing native escapes as an abort.
  template <Napi::Value (Fit::*M)(const Napi::CallbackInfo&)>
  Napi::Value guard(const Napi::CallbackInfo& info) {
    try {
      return (this->*M)(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      throw toJsError(info.Env(), "Fit", std::current_exception());
    }
  }

  void construct(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Fit: expected a spec object");
    const SpecReader o(info[0].As<Napi::Object>(), "Fit");
    const std::string dtype = o.string("dtype", "float64");
    if (dtype != "float32" && dtype != "float64") throw Napi::TypeError::New(env, "Fit: dtype: expected 'float32' or 'float64'");
    float32_ = dtype == "float32";
    if (float32_) build<float>(o);
    else build<double>(o);
  }

  template <typename T>
  void build(const SpecReader& o) {
    Napi::Env env = o.env();
    const Index N = o.index("N"), F = o.index("F"), K = o.index("K");
    // W and H may be given later (write); X is required.
    const ArrayArg X = o.array("X"), W = o.array("W", true), H = o.array("H", true);
    Device where = sameDevice(env, {&X, &W, &H});
    // A host X may be given to a device fit: it is then copied there (checked on the way).
    const std::string device = o.string("device", deviceName(where));
    if (device != "cpu" && device != "cuda") throw Napi::TypeError::New(env, "Fit: device: expected 'cpu' or 'cuda'");
    if (device == "cuda" && X.device == Device::Cpu && !W.data && !H.data) where = Device::Cuda;
    else if (device != deviceName(where)) throw Napi::Error::New(env, "Fit: device: the arrays live on " + std::string(deviceName(where)));
    if (X.length != std::size_t(N * F)) throw Napi::RangeError::New(env, "Fit: X: expected N×F elements");
    const CMat<T> W0 = W.data ? CMat<T>(matArg<T>(env, W, F, K, "W")) : CMat<T>();
    const CMat<T> H0 = H.data ? CMat<T>(matArg<T>(env, H, N, K, "H")) : CMat<T>();

    EpochSpec<T> spec;
    o.solverOptions(spec);
    const std::string shuffle = o.string("shuffle", "none");
    const ArrayArg M = o.array("weights", true);
    if (M.data && M.device != Device::Cpu && M.device != where) throw Napi::Error::New(env, "Fit: weights: expected the fit's device or the host");
    if (M.data && M.length != std::size_t(N * F)) throw Napi::RangeError::New(env, "Fit: weights: expected N×F elements");
    std::vector<std::uint8_t> fixed;
    o.fixedColumns(K, fixed);

    auto st = std::make_shared<FitState<T>>(where, backendFor<T>(where), backendFor<double>(where),
                                            where == Device::Cpu ? nullptr : &acceleratorFor(where), N, F, K);
    FitState<T>& s = *st;
    s.spec = spec;
    s.shuffle = shuffle == "rows" ? Shuffle::Rows : shuffle == "batches" ? Shuffle::Batches : Shuffle::None;
    s.fixedFlags = std::move(fixed);
    s.positive = o.flag("positive", false);
    DeviceLock lock(s.device);
    if (X.device != Device::Cpu) {
      // X already lives on the device: it is read in place (the fit only reads it) and checked
      // there (only the scan's few numbers come back).
      if ((X.dtype == DType::Float32) != (sizeof(T) == 4)) throw Napi::TypeError::New(env, "Fit: X: expected the fit's dtype");
      s.xOwner = X.owner;
      s.readInPlace(CMat<T>(static_cast<const T*>(X.data), N, F));
    } else if (s.device == Device::Cpu && o.flag("borrowX", false) && (X.dtype == DType::Float32) == (sizeof(T) == 4)) {
      // A sync fit reads the caller's X in place: no JS runs while a slice computes, and every
      // call first checks that X's memory is still the same (not detached or transferred).
      s.readInPlace(CMat<T>(static_cast<const T*>(X.data), N, F));
      borrowed_ = Napi::Persistent(X.value);
      borrowedData_ = X.data;
      borrowedLength_ = X.length;
    } else {
      // The working copy (in the fit's dtype, where the fit computes), checked on the way in:
      // here at once, or (loadX) by load() calls in chunks between which the event loop runs.
      const bool steps = o.flag("loadX", false);
      s.allocateX(!steps);  // in steps, each maps its own pages
      source_ = Napi::Persistent(X.value);
      sourceData_ = X.data;
      sourceLength_ = X.length;
      if (!steps) load<T>(env, s, N * F);
    }
    if (M.data) {  // the weights' own copy, in the fit's dtype, checked where it computes
      if (M.device != Device::Cpu) s.copyWeights(CMat<T>(matArg<T>(env, M, N, F, "weights")));
      else if (M.dtype == DType::Float32) s.copyWeights(static_cast<const float*>(M.data));
      else s.copyWeights(static_cast<const double*>(M.data));
      checkWeightValues<T>(env, s.spec.weights, s.device);
    }
    s.allocateFactors(W0, H0);
    state_ = st;
    reported_ = s.heldBytes();
    Napi::MemoryManagement::AdjustExternalMemory(env, reported_);
  }

  // load(end): copies X's entries [loaded, end) into the working copy, checking them on the way.
  // It runs on this thread, so the caller's array cannot go away under it; between calls the
  // caller may detach or transfer X's memory, which is then an Error, never a read of it.
  Napi::Value loadX(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double d = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
      throw Napi::RangeError::New(env, "Fit.load: end: expected a nonnegative integer");
    const Index end = static_cast<Index>(d);
    if (float32_) load<float>(env, *state<float>(env), end);
    else load<double>(env, *state<double>(env), end);
    return env.Undefined();
  }

  template <typename T>
  void load(Napi::Env env, FitState<T>& s, Index end) {
    if (source_.IsEmpty()) throw Napi::Error::New(env, "Fit: X is loaded already");
    const ArrayArg X = arrayValue(env, source_.Value(), "X");
    if (X.data != sourceData_ || X.length != sourceLength_)
      throw Napi::Error::New(env, "X: its memory was detached or transferred during the fit");
    if (X.dtype == DType::Float32) s.loadFrom(static_cast<const float*>(X.data), end);
    else s.loadFrom(static_cast<const double*>(X.data), end);
    if (s.xLoaded()) source_.Reset();
  }

  // Whether X's working copy is complete (run, cost and dataScan need it).
  template <typename T>
  std::shared_ptr<FitState<T>> loadedState(Napi::Env env) {
    auto st = state<T>(env);
    if (!st->xLoaded()) throw Napi::Error::New(env, "Fit: X is not loaded yet (call load)");
    return st;
  }

  template <typename T>
  std::shared_ptr<FitState<T>> state(Napi::Env env) {
    auto st = std::static_pointer_cast<FitState<T>>(state_);
    if (!st) throw Napi::Error::New(env, "Fit: already disposed");
    return st;
  }

  // run(async, { first, end, order?, starts?, ends?, snapshot?, guard?, X?, H?, solver?,
  //              batchSize?, updateH?, updateW? }) → finite (boolean) or a Promise of it.
  Napi::Value run(const Napi::CallbackInfo& info) {
    return float32_ ? runT<float>(info) : runT<double>(info);
  }
  template <typename T>
  Napi::Value runT(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto st = loadedState<T>(env);
    FitState<T>& s = *st;
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "Fit.run: expected a spec object");
    const SpecReader o(info[1].As<Napi::Object>(), "Fit");
    EpochSpec<T> spec = s.spec;
    o.sliceOverrides(spec);
    // A cache of rows (cacheRows): X and H rows resident on the device for this slice only.
    CMat<T> X = s.X;
    Mat<T> H = s.H;
    const ArrayArg xc = o.array("X", true), hc = o.array("H", true), mc = o.array("weights", true);
    const bool cached = xc.data != nullptr;
    if (cached) {
      if (sameDevice(env, {&xc, &hc, &mc}) != s.device) throw Napi::Error::New(env, "Fit.run: a cache on another device");
      const Index n = static_cast<Index>(xc.length) / std::max<Index>(s.F, 1);
      X = matArg<T>(env, xc, n, s.F, "X");
      H = matArg<T>(env, hc, n, s.K, "H");
      spec.weights = mc.data ? CMat<T>(matArg<T>(env, mc, n, s.F, "weights")) : CMat<T>();
    }
    const Index rows = X.rows;
    const Index nBatches = batchCount(rows, spec.batchSize);
    spec.firstBatch = o.index("first", 0);
    spec.endBatch = std::min(o.index("end", double(nBatches)), nBatches);
    std::vector<std::uint32_t> order;
    if (s.shuffle == Shuffle::Rows) o.order("order", std::size_t(rows), std::uint32_t(rows), order);
    else o.order("order", std::size_t(nBatches), std::uint32_t(nBatches), order);
    auto job = std::make_unique<RunJob<T>>(st, spec, std::move(order), o.flag("snapshot", false), o.flag("guard", false),
                                           X, H, cached);
    job->keep({Value(), xc.value, hc.value, mc.value});
    job->hold(xc.owner);
    job->hold(hc.owner);
    job->hold(mc.owner);
    const bool async = info[0].ToBoolean().Value();
    checkBorrowed(env, async);
    return bnmf::binding::run(env, std::move(job), async, "BetaNMF.fit");
  }

  // A borrowed X must still be the memory it was (and is read synchronously only).
  void checkBorrowed(Napi::Env env, bool async) {
    if (borrowed_.IsEmpty()) return;
    if (async) throw Napi::Error::New(env, "Fit: an X read in place is for synchronous calls only");
    const ArrayArg now = arrayValue(env, borrowed_.Value(), "X");
    if (now.data != borrowedData_ || now.length != borrowedLength_)
      throw Napi::Error::New(env, "X: its memory was detached or transferred during the fit");
  }

  // cost(async) → D(X | H·Wᵀ) (V clipped at the fit's vFloor).
  Napi::Value cost(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::unique_ptr<Job> job;
    if (float32_) job = std::make_unique<CostJob<float>>(loadedState<float>(env));
    else job = std::make_unique<CostJob<double>>(loadedState<double>(env));
    job->keep({Value()});
    const bool async = info[0].ToBoolean().Value();
    checkBorrowed(env, async);
    return bnmf::binding::run(env, std::move(job), async, "BetaNMF.fit");
  }

  // restore() → whether a snapshot existed (W, H and the gradient state as it was taken).
  Napi::Value restore(const Napi::CallbackInfo& info) {
    bool ok = false;
    if (float32_) locked(state<float>(info.Env()), [&](auto& s) { ok = s.restore(); });
    else locked(state<double>(info.Env()), [&](auto& s) { ok = s.restore(); });
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value saveBest(const Napi::CallbackInfo& info) {
    if (float32_) locked(state<float>(info.Env()), [](auto& s) { s.saveBest(); });
    else locked(state<double>(info.Env()), [](auto& s) { s.saveBest(); });
    return info.Env().Undefined();
  }
  Napi::Value restoreBest(const Napi::CallbackInfo& info) {
    bool ok = false;
    if (float32_) locked(state<float>(info.Env()), [&](auto& s) { ok = s.restoreBest(); });
    else locked(state<double>(info.Env()), [&](auto& s) { ok = s.restoreBest(); });
    return Napi::Boolean::New(info.Env(), ok);
  }
  template <typename S, typename Fn>
  static void locked(const std::shared_ptr<S>& st, Fn&& fn) {
    DeviceLock lock(st->device);
    fn(*st);
  }

  template <typename T>
  Mat<T> named(FitState<T>& s, Napi::Env env, const std::string& name) {
    if (name == "W") return s.W;
    if (name == "H") return s.H;
    if (name == "gradPos") return s.Gp;
    if (name == "gradNeg") return s.Gn;
    if (name == "sagStep") {
      if (!s.spec.averageTargets) throw Napi::RangeError::New(env, "Fit: sagStep: only a fit with averageTargets has one");
      return s.sagStep();
    }
    throw Napi::RangeError::New(env, "Fit: unknown matrix '" + name + "'");
  }

  // sagGain() → the SAG gain (0 before the first averaged batch); sagGain(g) sets it (partialFit
  // and sharded fits carry it, with sagStep, from one fit object to the next).
  Napi::Value gain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const bool set = !info[0].IsUndefined();
    double v = 0;
    if (set) {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "Fit.sagGain: expected a number");
      v = info[0].As<Napi::Number>().DoubleValue();
      if (!(v >= 0 && v <= 1)) throw Napi::RangeError::New(env, "Fit.sagGain: expected a number in [0, 1]");
    }
    auto access = [&](auto& s) { set ? void(s.sagGain = v) : void(v = s.sagGain); };
    if (float32_) locked(state<float>(env), access);
    else locked(state<double>(env), access);
    return Napi::Number::New(env, v);
  }

  // read(name, out): copies W, H, gradPos, gradNeg or sagStep into out (an array where the fit lives).
  // write(name, src): the reverse.
  Napi::Value read(const Napi::CallbackInfo& info) { return transfer(info, true); }
  Napi::Value write(const Napi::CallbackInfo& info) { return transfer(info, false); }
  Napi::Value transfer(const Napi::CallbackInfo& info, bool toJs) {
    return float32_ ? transferT<float>(info, toJs) : transferT<double>(info, toJs);
  }
  template <typename T>
  Napi::Value transferT(const Napi::CallbackInfo& info, bool toJs) {
    Napi::Env env = info.Env();
    auto st = state<T>(env);
    FitState<T>& s = *st;
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "Fit: name: expected a string");
    Mat<T> m = named(s, env, info[0].As<Napi::String>().Utf8Value());
    const ArrayArg a = arrayValue(env, info[1], "out");
    if (a.device != s.device) throw Napi::Error::New(env, "Fit: the array lives on another device");
    Mat<T> other = matArg<T>(env, a, m.rows, m.cols, toJs ? "out" : "src");
    DeviceLock lock(s.device);
    if (toJs) s.be().copy(m, other);
    else s.be().copy(other, m);
    // W as written is what its fixed columns keep (fixedComponents).
    if (!toJs && m.data == s.W.data) s.keepW();
    s.be().finish();
    return env.Undefined();
  }

  // dataScan() → { sum, allZero, index?, value? }: the scan of X in the fit's dtype (index is
  // the first entry that is not finite and nonnegative, or positive when asked). A device X is
  // scanned on the device, a host X on its way into the working copy.
  Napi::Value dataScan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const DataIssue d = float32_ ? loadedState<float>(env)->issue : loadedState<double>(env)->issue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("sum", d.sum);
    o.Set("allZero", d.allZero());
    if (d.index >= 0) {
      o.Set("index", double(d.index));
      o.Set("value", d.value);
    }
    return o;
  }

  // dispose(): frees the native memory now (a job still running keeps it until it ends).
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    release(info.Env());
    return info.Env().Undefined();
  }

  // The collector's safety net for a fit nobody disposed.
  void Finalize(Napi::Env env) override { release(env); }

  void release(Napi::Env env) {
    state_.reset();
    borrowed_.Reset();
    source_.Reset();
    if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_);
    reported_ = 0;
  }

  bool float32_ = true;
  std::shared_ptr<FitStateBase> state_;
  std::int64_t reported_ = 0;  // bytes reported to V8 as held by this small JS object
  Napi::Reference<Napi::Value> borrowed_;  // the caller's X, when read in place
  const void* borrowedData_ = nullptr;
  std::size_t borrowedLength_ = 0;
  Napi::Reference<Napi::Value> source_;  // the caller's X while it is being loaded
  const void* sourceData_ = nullptr;
  std::size_t sourceLength_ = 0;
};

Napi::Value liveBuffersEntry(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(liveBuffers().load()));
}

}  // namespace

void registerFit(Napi::Env env, Napi::Object exports) {
  exports.Set("Fit", Fit::define(env));
  exports.Set("liveBuffers", Napi::Function::New(env, liveBuffersEntry, "liveBuffers"));
}

}  // namespace bnmf::binding
