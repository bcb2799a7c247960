// A fit as one native object. `new Fit(spec)` reads one options object by name and allocates,
// on the backend where the fit computes, everything the solver touches: X's working copy, W,
// H, the W-gradient state, the guard's snapshot and the batches' scratch. The TypeScript
// driver then only schedules slices of epochs (run), costs, and reads the factors back; the
// memory is released by dispose() (or, as a safety net, when the object is collected).
// Jobs keep the state alive while they run, so dispose() during an async slice is safe.
#include "binding/fit.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/args.h"
#include "binding/weights.h"
#include "binding/job.h"
#include "core/errors.h"
#include "core/solver.h"

namespace bnmf::binding {
namespace {

// ---- reading the spec by name ------------------------------------------------------------

Napi::Value field(const Napi::Object& o, const char* key) { return o.Get(key); }

double numberField(const Napi::Object& o, const char* key) {
  Napi::Value v = field(o, key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("Fit: ") + key + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

double numberField(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = field(o, key);
  return v.IsUndefined() ? def : numberField(o, key);
}

Index indexField(const Napi::Object& o, const char* key, double def = -1) {
  const double d = def >= 0 ? numberField(o, key, def) : numberField(o, key);
  if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0)
    throw Napi::RangeError::New(o.Env(), std::string("Fit: ") + key + ": expected an integer in [0, 2^31 − 1]");
  return static_cast<Index>(d);
}

bool flagField(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = field(o, key);
  return v.IsUndefined() ? def : v.ToBoolean().Value();
}

std::string stringField(const Napi::Object& o, const char* key, const char* def) {
  Napi::Value v = field(o, key);
  if (v.IsUndefined()) return def;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("Fit: ") + key + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

// An array field read as an ArrayArg (the same checks as the kernels' arguments).
ArrayArg arrayField(const Napi::Object& o, const char* key, bool optional = false) {
  return arrayValue(o.Env(), field(o, key), key, optional);
}

// A Uint32Array copied into `out` (null/undefined → empty), each entry below `bound`.
void orderField(const Napi::Object& o, const char* key, std::size_t length, std::uint32_t bound,
                std::vector<std::uint32_t>& out) {
  Napi::Value v = field(o, key);
  out.clear();
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(o.Env(), std::string("Fit: ") + key + ": expected a Uint32Array or null");
  auto a = v.As<Napi::Uint32Array>();
  if (a.ElementLength() != length)
    throw Napi::RangeError::New(o.Env(), std::string("Fit: ") + key + ": expected " + std::to_string(length) + " entries");
  out.assign(a.Data(), a.Data() + length);
  for (std::uint32_t i : out)
    if (i >= bound) throw Napi::RangeError::New(o.Env(), std::string("Fit: ") + key + ": index out of range");
}

// fixedComponents: an array of distinct column indices in [0, K) → K flags (empty when none).
void fixedField(const Napi::Object& o, Index K, std::vector<std::uint8_t>& flags) {
  Napi::Value v = field(o, "fixedComponents");
  flags.clear();
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), "Fit: fixedComponents: expected an array of column indices");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() == 0) return;
  flags.assign(static_cast<std::size_t>(K), 0);
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < double(K) && d == std::floor(d)) || flags[std::size_t(d)])
      throw Napi::RangeError::New(o.Env(), "Fit: fixedComponents: expected distinct integers in [0, K)");
    flags[std::size_t(d)] = 1;
  }
}

// ---- the state -----------------------------------------------------------------------------

enum class Shuffle { None, Batches, Rows };

struct FitStateBase {
  virtual ~FitStateBase() = default;
};

template <typename T>
struct FitState final : FitStateBase {
  Device device = Device::Cpu;
  Index N = 0, F = 0, K = 0;
  EpochSpec<T> spec;
  Shuffle shuffle = Shuffle::None;
  std::unique_ptr<Buffer<T>> x, w, h, gp, gn, snapW, snapH, snapGp, snapGn, bestW, bestH;
  std::unique_ptr<Buffer<T>> hPos, hNeg, xRows, hRows, wPos, wNeg, zeros, ones, lastStep;
  std::unique_ptr<Buffer<T>> m, mRows, fixedW;  // weights' copy, gathered weight rows, W's fixed columns
  std::vector<std::uint8_t> fixedFlags;         // K flags (fixedComponents), empty when none
  std::unique_ptr<Buffer<double>> sums;
  double sagGain = 0;  // the SAG gain (solver.h), 0 before the first averaged batch
  Index scratchRows = 0;
  std::shared_ptr<void> xOwner;  // a device X referenced rather than copied
  CMat<T> X;
  Mat<T> W, H, Gp, Gn;
  bool snapshotTaken = false;
  DataIssue issue;  // the scan of X (complete once `loaded` reaches N·F)
  Index loaded = 0;  // entries of X copied into its working copy so far

  Backend<T>& be() { return backendFor<T>(device); }

  Mat<T> own(std::unique_ptr<Buffer<T>>& buf, Index rows, Index cols, bool populate = true) {
    buf = be().allocate(rows * cols, populate);
    return Mat<T>(buf->data(), rows, cols);
  }

  // Scratch for batches of up to `rows` rows (grown only when a larger batch is asked for).
  SliceScratch<T> scratch(Index rows, bool gathered) {
    if (rows > scratchRows || (gathered && !xRows)) {
      scratchRows = std::max(rows, scratchRows);
      hPos = be().allocate(scratchRows * K);
      hNeg = be().allocate(scratchRows * K);
      if (gathered || xRows) {
        xRows = be().allocate(scratchRows * F);
        hRows = be().allocate(scratchRows * K);
        if (m) mRows = be().allocate(scratchRows * F);
      }
    }
    SliceScratch<T> sc{hPos->data(), hNeg->data(), xRows ? xRows->data() : nullptr, hRows ? hRows->data() : nullptr};
    sc.mRows = mRows ? mRows->data() : nullptr;
    if (spec.averageTargets) {
      targetsState();
      sc.wPos = wPos->data(), sc.wNeg = wNeg->data(), sc.zeros = zeros->data(), sc.ones = ones->data();
      sc.lastStep = lastStep->data(), sc.gain = &sagGain, sc.sums = sums->data();
    }
    return sc;
  }

  // The buffers of averaged targets and the SAG gain (allocated once, on first use).
  void targetsState() {
    if (wPos) return;
    own(wPos, F, K), own(wNeg, F, K);
    be().zero(own(zeros, F, K));
    be().fill(own(ones, F, K), T(1));
    be().zero(own(lastStep, F, K));
    sums = backendFor<double>(device).allocate(3);
  }

  void snapshot() {
    Backend<T>& b = be();
    if (!snapW) {
      own(snapW, F, K), own(snapH, N, K), own(snapGp, F, K), own(snapGn, F, K);
    }
    b.copy(W, Mat<T>(snapW->data(), F, K));
    b.copy(H, Mat<T>(snapH->data(), N, K));
    b.copy(Gp, Mat<T>(snapGp->data(), F, K));
    b.copy(Gn, Mat<T>(snapGn->data(), F, K));
    snapshotTaken = true;
  }

  // The factors with the lowest cost so far (kept aside by the driver, brought back when a fit
  // ends on anything but convergence or maxIter).
  void saveBest() {
    if (!bestW) own(bestW, F, K), own(bestH, N, K);
    be().copy(W, Mat<T>(bestW->data(), F, K));
    be().copy(H, Mat<T>(bestH->data(), N, K));
    be().finish();
  }
  bool restoreBest() {
    if (!bestW) return false;
    be().copy(CMat<T>(bestW->data(), F, K), W);
    be().copy(CMat<T>(bestH->data(), N, K), H);
    be().finish();
    return true;
  }

  bool restore() {
    if (!snapshotTaken) return false;
    Backend<T>& b = be();
    b.copy(CMat<T>(snapW->data(), F, K), W);
    b.copy(CMat<T>(snapH->data(), N, K), H);
    b.copy(CMat<T>(snapGp->data(), F, K), Gp);
    b.copy(CMat<T>(snapGn->data(), F, K), Gn);
    b.finish();
    return true;
  }
};

// ---- jobs ------------------------------------------------------------------------------------

template <typename T>
class RunJob final : public Job {
 public:
  RunJob(std::shared_ptr<FitState<T>> st, EpochSpec<T> spec, std::vector<std::uint32_t> order, bool snapshot,
         bool guard, CMat<T> X, Mat<T> H, bool cached)
      : st_(std::move(st)), spec_(spec), order_(std::move(order)), snapshot_(snapshot), guard_(guard), X_(X), H_(H),
        cached_(cached) {}
  void execute() override {
    FitState<T>& s = *st_;
    DeviceLock lock(s.device);
    Backend<T>& be = s.be();
    if (snapshot_) s.snapshot();
    if (!order_.empty()) {
      if (s.shuffle == Shuffle::Rows) spec_.rowOrder = order_.data();
      else spec_.batchOrder = order_.data();
    }
    const SliceScratch<T> scratch = s.scratch(std::min(spec_.batchSize, X_.rows), spec_.rowOrder != nullptr);
    runEpochSlice(be, X_, s.W, H_, s.Gp, s.Gn, spec_, scratch);
    const bool sag = spec_.solver == SolverKind::Asag || spec_.solver == SolverKind::Gsag;
    const double negExponent = sag && spec_.averageTargets ? 1.0 - 1.0 / spec_.gamma : 1.0;
    if (guard_) finite_ = rebalance(be, s.W, H_, s.Gp, s.Gn, negExponent, spec_.fixedColumns);
    else if (cached_) {
      std::vector<double> w(static_cast<std::size_t>(s.K));
      finite_ = be.columnMax(s.W, w.data());
    }
    be.finish();
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
    FitState<T>& s = *st_;
    DeviceLock lock(s.device);
    value_ = objective<T>(s.be(), s.X, s.W, s.H, s.spec.beta, s.spec.vFloor, s.spec.weights, s.spec.penalty);
    s.be().finish();
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
    Napi::Object o = info[0].As<Napi::Object>();
    const std::string dtype = stringField(o, "dtype", "float64");
    if (dtype != "float32" && dtype != "float64") throw Napi::TypeError::New(env, "Fit: dtype: expected 'float32' or 'float64'");
    float32_ = dtype == "float32";
    if (float32_) build<float>(o);
    else build<double>(o);
  }

  template <typename T>
  void build(const Napi::Object& o) {
    Napi::Env env = o.Env();
    auto st = std::make_shared<FitState<T>>();
    FitState<T>& s = *st;
    s.N = indexField(o, "N");
    s.F = indexField(o, "F");
    s.K = indexField(o, "K");
    // W and H may be given later (write); X is required.
    const ArrayArg X = arrayField(o, "X"), W = arrayField(o, "W", true), H = arrayField(o, "H", true);
    s.device = sameDevice(env, {&X, &W, &H});
    // A host X may be given to a device fit: it is then copied there (checked on the way).
    const std::string device = stringField(o, "device", deviceName(s.device));
    if (device != "cpu" && device != "cuda") throw Napi::TypeError::New(env, "Fit: device: expected 'cpu' or 'cuda'");
    if (device == "cuda" && X.device == Device::Cpu && !W.data && !H.data) s.device = Device::Cuda;
    else if (device != deviceName(s.device)) throw Napi::Error::New(env, "Fit: device: the arrays live on " + std::string(deviceName(s.device)));
    const Index N = s.N, F = s.F, K = s.K;
    if (X.length != std::size_t(N * F)) throw Napi::RangeError::New(env, "Fit: X: expected N×F elements");
    if (W.data) matArg<T>(env, W, F, K, "W");
    if (H.data) matArg<T>(env, H, N, K, "H");

    EpochSpec<T>& p = s.spec;
    p.beta = Beta::of(numberField(o, "beta"));
    if (!std::isfinite(p.beta.value)) throw Napi::RangeError::New(env, "Fit: beta: expected a finite number");
    const std::string solver = stringField(o, "solver", "mu_batch");
    if (!solverByName(solver.c_str(), p.solver)) throw Napi::RangeError::New(env, "Fit: solver: unknown solver '" + solver + "'");
    p.batchSize = std::max<Index>(1, indexField(o, "batchSize", 100));
    p.eps = static_cast<T>(numberField(o, "eps", 1e-10));
    p.gamma = numberField(o, "gamma", 1.0);
    p.forget = static_cast<T>(numberField(o, "forget", 1.0));
    p.vFloor = static_cast<T>(numberField(o, "vFloor", 0.0));
    p.updateH = flagField(o, "updateH", true);
    p.updateW = flagField(o, "updateW", true);
    p.averageTargets = flagField(o, "averageTargets", false);
    const std::string shuffle = stringField(o, "shuffle", "none");
    s.shuffle = shuffle == "rows" ? Shuffle::Rows : shuffle == "batches" ? Shuffle::Batches : Shuffle::None;
    p.penalty.alphaW = numberField(o, "alphaW", 0.0);
    p.penalty.alphaH = numberField(o, "alphaH", 0.0);
    p.penalty.l1Ratio = numberField(o, "l1Ratio", 0.0);
    if (!(p.penalty.alphaW >= 0 && p.penalty.alphaH >= 0 && p.penalty.l1Ratio >= 0 && p.penalty.l1Ratio <= 1) ||
        !std::isfinite(p.penalty.alphaW) || !std::isfinite(p.penalty.alphaH))
      throw Napi::RangeError::New(env, "Fit: alphaW, alphaH: expected finite numbers ≥ 0, l1Ratio one in [0, 1]");
    const ArrayArg M = arrayField(o, "weights", true);
    if (M.data && M.device != Device::Cpu && M.device != s.device) throw Napi::Error::New(env, "Fit: weights: expected the fit's device or the host");
    if (M.data && M.length != std::size_t(N * F)) throw Napi::RangeError::New(env, "Fit: weights: expected N×F elements");
    fixedField(o, K, s.fixedFlags);

    positive_ = flagField(o, "positive", false);
    Backend<T>& be = s.be();
    DeviceLock lock(s.device);
    if (X.device != Device::Cpu) {
      // X already lives on the device: it is read in place (the fit only reads it) and checked
      // there (only the scan's few numbers come back).
      s.xOwner = X.owner;
      s.X = CMat<T>(static_cast<const T*>(X.data), N, F);
      if ((X.dtype == DType::Float32) != (sizeof(T) == 4)) throw Napi::TypeError::New(env, "Fit: X: expected the fit's dtype");
      s.issue = be.scan(s.X, positive_);
      s.loaded = N * F;
    } else if (s.device == Device::Cpu && flagField(o, "borrowX", false) && (X.dtype == DType::Float32) == (sizeof(T) == 4)) {
      // A sync fit reads the caller's X in place: no JS runs while a slice computes, and every
      // call first checks that X's memory is still the same (not detached or transferred).
      s.X = CMat<T>(static_cast<const T*>(X.data), N, F);
      s.issue = be.scan(s.X, positive_);
      s.loaded = N * F;
      borrowed_ = Napi::Persistent(X.value);
      borrowedData_ = X.data;
      borrowedLength_ = X.length;
    } else {
      // The working copy (in the fit's dtype, where the fit computes), checked on the way in:
      // here at once, or (loadX) by load() calls in chunks between which the event loop runs.
      const bool steps = flagField(o, "loadX", false);
      s.X = s.own(s.x, N, F, !steps);  // in steps, each maps its own pages
      source_ = Napi::Persistent(X.value);
      sourceData_ = X.data;
      sourceLength_ = X.length;
      if (!steps) load<T>(env, s, N * F);
    }
    if (M.data) {  // the weights' own copy, in the fit's dtype
      Mat<T> m = s.own(s.m, N, F);
      if (M.device != Device::Cpu) {
        be.copy(matArg<T>(env, M, N, F, "weights"), m);
      } else {  // host weights, converted to the fit's dtype (on the host) and uploaded for a device fit
        std::vector<T> staging(s.device == Device::Cpu ? 0 : static_cast<std::size_t>(N * F));
        T* dst = s.device == Device::Cpu ? m.data : staging.data();
        if (M.dtype == DType::Float32) std::copy_n(static_cast<const float*>(M.data), N * F, dst);
        else std::copy_n(static_cast<const double*>(M.data), N * F, dst);
        if (s.device != Device::Cpu) acceleratorFor(s.device).upload(m.data, dst, sizeof(T) * static_cast<std::size_t>(N * F));
      }
      checkWeightValues<T>(env, CMat<T>(m), s.device);  // in the fit's dtype, where it computes
      p.weights = m;
    }
    s.W = s.own(s.w, F, K);
    s.H = s.own(s.h, N, K);
    s.Gp = s.own(s.gp, F, K);
    s.Gn = s.own(s.gn, F, K);
    if (!s.fixedFlags.empty()) {
      s.own(s.fixedW, F, K);
      p.fixedColumns = s.fixedFlags.data();
      p.fixedW = s.fixedW->data();
    }
    if (W.data) be.copy(matArg<T>(env, W, F, K, "W"), s.W);
    else be.zero(s.W);
    if (s.fixedW) be.copy(s.W, Mat<T>(s.fixedW->data(), F, K));
    if (H.data) be.copy(matArg<T>(env, H, N, K, "H"), s.H);
    else be.zero(s.H);
    be.zero(s.Gp);
    be.zero(s.Gn);
    be.finish();
    state_ = st;
    // X's copy, W, H, the gradient state and (later) the snapshot: what this object holds.
    reported_ = std::int64_t(sizeof(T)) * ((s.x ? N * F : 0) + (s.m ? N * F : 0) + 2 * (N * K + 2 * F * K));
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
    end = std::max(s.loaded, std::min(end, s.N * s.F));
    if (X.dtype == DType::Float32) loadFrom(s, static_cast<const float*>(X.data), end);
    else loadFrom(s, static_cast<const double*>(X.data), end);
    if (s.loaded == s.N * s.F) source_.Reset();
  }

  template <typename T, typename S>
  void loadFrom(FitState<T>& s, const S* src, Index end) {
    T* dst = s.x->data();
    if (s.device == Device::Cpu) {
      scanEntries(src + s.loaded, dst + s.loaded, end - s.loaded, s.loaded, positive_, s.issue);
      s.loaded = end;
      return;
    }
    // A device fit: checked (and converted) on the host in bounded pieces, each then uploaded.
    constexpr Index kPiece = Index(1) << 20;
    Accelerator& acc = acceleratorFor(s.device);
    std::vector<T> staging;
    while (s.loaded < end) {
      const Index n = std::min(kPiece, end - s.loaded);
      const void* host = src + s.loaded;
      if constexpr (std::is_same_v<S, T>) {
        scanEntries<T, S>(src + s.loaded, nullptr, n, s.loaded, positive_, s.issue);
      } else {
        staging.resize(static_cast<std::size_t>(n));
        scanEntries(src + s.loaded, staging.data(), n, s.loaded, positive_, s.issue);
        host = staging.data();
      }
      acc.upload(dst + s.loaded, host, sizeof(T) * static_cast<std::size_t>(n));
      s.loaded += n;
    }
  }

  // Whether X's working copy is complete (run, cost and dataScan need it).
  template <typename T>
  std::shared_ptr<FitState<T>> loadedState(Napi::Env env) {
    auto st = state<T>(env);
    if (st->loaded != st->N * st->F) throw Napi::Error::New(env, "Fit: X is not loaded yet (call load)");
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
    Napi::Object o = info[1].As<Napi::Object>();
    EpochSpec<T> spec = s.spec;
    if (!field(o, "solver").IsUndefined()) {
      const std::string solver = stringField(o, "solver", "mu_batch");
      if (!solverByName(solver.c_str(), spec.solver)) throw Napi::RangeError::New(env, "Fit.run: unknown solver '" + solver + "'");
    }
    spec.batchSize = std::max<Index>(1, indexField(o, "batchSize", double(spec.batchSize)));
    spec.updateH = flagField(o, "updateH", spec.updateH);
    spec.updateW = flagField(o, "updateW", spec.updateW);
    spec.forget = static_cast<T>(numberField(o, "forget", double(spec.forget)));
    spec.startsEpoch = flagField(o, "starts", true);
    spec.endsEpoch = flagField(o, "ends", true);
    // A cache of rows (cacheRows): X and H rows resident on the device for this slice only.
    CMat<T> X = s.X;
    Mat<T> H = s.H;
    const ArrayArg xc = arrayField(o, "X", true), hc = arrayField(o, "H", true), mc = arrayField(o, "weights", true);
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
    spec.firstBatch = indexField(o, "first", 0);
    spec.endBatch = std::min(indexField(o, "end", double(nBatches)), nBatches);
    std::vector<std::uint32_t> order;
    if (s.shuffle == Shuffle::Rows) orderField(o, "order", std::size_t(rows), std::uint32_t(rows), order);
    else orderField(o, "order", std::size_t(nBatches), std::uint32_t(nBatches), order);
    auto job = std::make_unique<RunJob<T>>(st, spec, std::move(order), flagField(o, "snapshot", false),
                                           flagField(o, "guard", false), X, H, cached);
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
      s.targetsState();
      return Mat<T>(s.lastStep->data(), s.F, s.K);
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
    if (!toJs && m.data == s.W.data && s.fixedW) s.be().copy(other, Mat<T>(s.fixedW->data(), s.F, s.K));
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
  bool positive_ = false;  // X must be positive (β ≤ 0), not only nonnegative
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
