#include "binding/job.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "binding/args.h"
#include "core/errors.h"
#include "cpu/workspace.h"

namespace bnmf::binding {
namespace {

enum class ErrorKind { Range, Generic };

struct Failure {
  ErrorKind kind = ErrorKind::Generic;
  std::string message;
};

Failure describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const bnmf::RangeError& err) {
    return {ErrorKind::Range, err.what()};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::Generic, "out of memory"};
  } catch (const std::exception& err) {
    return {ErrorKind::Generic, err.what()};
  } catch (...) {
    return {ErrorKind::Generic, "unknown native error"};
  }
}

Napi::Error makeError(Napi::Env env, const std::string& what, const Failure& f) {
  const std::string msg = what + ": " + f.message;
  if (f.kind == ErrorKind::Range) return Napi::RangeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

class JobWorker final : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::unique_ptr<Job> job, std::string what)
      : Napi::AsyncWorker(env, "betanmf"), job_(std::move(job)), what_(std::move(what)) {
    napi_value promise = nullptr;
    if (napi_create_promise(env, &deferred_, &promise) != napi_ok) throw Napi::Error::New(env);
    promise_ = Napi::Value(env, promise);
  }

  Napi::Value promise() const { return promise_; }

  void Execute() override {
    try {
      job_->execute();
    } catch (...) {
      failure_ = describe(std::current_exception());
      failed_ = true;
    }
  }

  // Settles the promise on the JS thread. Nothing may escape from here: when a worker thread
  // is terminated (worker.terminate()) its environment is torn down while jobs still finish,
  // every N-API call then fails, and an exception out of a libuv callback aborts the process.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      if (status != napi_cancelled) settle(env);
    } catch (...) {
      // The environment is going away: nobody is left to observe the promise.
    }
    job_.reset();  // frees the job's copies and references now
    Destroy();     // deletes this
  }

 private:
  void settle(napi_env env) {
    napi_handle_scope scope = nullptr;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    try {
      settleInScope(env);
    } catch (...) {
    }
    napi_close_handle_scope(env, scope);
  }
  void settleInScope(Napi::Env env) {
    if (failed_) {
      napi_reject_deferred(env, deferred_, makeError(env, what_, failure_).Value());
      return;
    }
    const std::string lost = job_->unstage(env);
    if (!lost.empty()) {
      napi_reject_deferred(env, deferred_, Napi::Error::New(env, what_ + ": " + lost).Value());
      return;
    }
    napi_resolve_deferred(env, deferred_, job_->result(env));
  }

  void OnOK() override {}
  void OnError(const Napi::Error&) override {}

  std::unique_ptr<Job> job_;
  std::string what_;
  napi_deferred deferred_ = nullptr;
  Napi::Value promise_;
  Failure failure_;
  bool failed_ = false;
};

// Reads a typed array's current memory (null when its buffer was detached).
bool typedArrayMemory(napi_env env, napi_value v, void** data, std::size_t* bytes) {
  napi_typedarray_type t;
  std::size_t length = 0;
  *data = nullptr;
  if (napi_get_typedarray_info(env, v, &t, &length, data, nullptr, nullptr) != napi_ok) return false;
  *bytes = length * (t == napi_float32_array ? 4 : 8);
  return *data != nullptr;
}

bool isSharedMemory(napi_env env, napi_value typedArray) {
  napi_value buffer = nullptr;
  napi_typedarray_type t;
  std::size_t length = 0;
  if (napi_get_typedarray_info(env, typedArray, &t, &length, nullptr, &buffer, nullptr) != napi_ok || !buffer)
    return false;
  bool plain = true;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok) return false;
  return !plain;  // a SharedArrayBuffer is not an ArrayBuffer
}

}  // namespace

namespace {

// Large copies come from the OS (cpu::pageAlloc). Fresh pages cost ~5 ms per MB on these VMs
// (more than the kernel itself), so a thread keeps the blocks of its finished calls for the next
// ones (at most kPoolBlocks, kPoolBytes in all) until trimCopyPool(), which lib/kernels.ts calls
// once a thread has had no async call in flight for a second, or the thread ends: a loop of
// awaited calls reuses the same memory, a service that goes quiet holds none.
constexpr std::size_t kPageCopy = std::size_t(1) << 20;
constexpr std::size_t kPoolBytes = std::size_t(512) << 20;
constexpr std::size_t kPoolBlocks = 8;

struct CopyPool {
  std::vector<std::pair<void*, std::size_t>> blocks;  // most recently freed last
  std::size_t total = 0;

  void* take(std::size_t bytes) {
    // The smallest block that fits without wasting more than half of it.
    std::size_t best = blocks.size();
    for (std::size_t i = 0; i < blocks.size(); ++i)
      if (blocks[i].second >= bytes && blocks[i].second / 2 <= bytes &&
          (best == blocks.size() || blocks[i].second < blocks[best].second))
        best = i;
    if (best == blocks.size()) return nullptr;
    void* p = blocks[best].first;
    total -= blocks[best].second;
    blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(best));
    return p;
  }
  void give(void* p, std::size_t bytes) {
    if (bytes > kPoolBytes) return cpu::pageFree(p, bytes);
    blocks.emplace_back(p, bytes);
    total += bytes;
    while (blocks.size() > kPoolBlocks || total > kPoolBytes) {  // the oldest go first
      cpu::pageFree(blocks.front().first, blocks.front().second);
      total -= blocks.front().second;
      blocks.erase(blocks.begin());
    }
  }
  void clear() {
    for (const auto& [p, bytes] : blocks) cpu::pageFree(p, bytes);
    blocks.clear();
    total = 0;
  }
  ~CopyPool() { clear(); }  // the thread ends
};

thread_local CopyPool copyPool;

void* copyAlloc(std::size_t bytes) {
  if (bytes < kPageCopy) return std::aligned_alloc(64, (bytes + 63) & ~std::size_t(63));
  if (void* p = copyPool.take(bytes)) return p;
  return cpu::pageAlloc(bytes);
}

void copyFree(void* p, std::size_t bytes) {
  if (bytes < kPageCopy) return std::free(p);
  copyPool.give(p, bytes);
}

}  // namespace

void trimCopyPool() { copyPool.clear(); }

Job::~Job() {
  for (const auto& [p, bytes] : copies_) copyFree(p, bytes);
}

void Job::stage(bool async, std::initializer_list<ArrayArg*> args, std::initializer_list<const ArrayArg*> outputs,
                std::initializer_list<const char*> outputNames) {
  if (!async) return;  // the JS thread is blocked: nothing can detach a buffer meanwhile
  struct Range {
    const char* begin;
    const char* end;
  };
  std::vector<ArrayArg*> host;
  std::vector<Range> ranges;
  for (ArrayArg* a : args) {
    if (a->device != Device::Cpu || !a->data || a->length == 0) continue;
    if (isSharedMemory(a->value.Env(), a->value)) continue;
    host.push_back(a);
    ranges.push_back({a->begin(), a->end()});
  }
  // Overlapping arrays are views of one buffer: one copy of their union keeps them overlapping.
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.begin < y.begin; });
  std::vector<Range> merged;
  for (const Range& r : ranges) {
    if (!merged.empty() && r.begin < merged.back().end) merged.back().end = std::max(merged.back().end, r.end);
    else merged.push_back(r);
  }
  std::vector<char*> copies;
  for (const Range& r : merged) {
    const std::size_t bytes = static_cast<std::size_t>(r.end - r.begin);
    void* p = copyAlloc(bytes);
    if (!p) throw std::bad_alloc();
    copies_.emplace_back(p, bytes);
    std::memcpy(p, r.begin, bytes);
    copies.push_back(static_cast<char*>(p));
  }
  auto outName = outputNames.begin();
  std::vector<std::pair<const ArrayArg*, const char*>> names;
  for (const ArrayArg* o : outputs) names.emplace_back(o, outName != outputNames.end() ? *outName++ : "out");
  for (ArrayArg* a : host) {
    std::size_t i = 0;
    while (!(merged[i].begin <= a->begin() && a->end() <= merged[i].end)) ++i;
    char* moved = copies[i] + (a->begin() - merged[i].begin);
    for (const auto& [o, name] : names)
      if (o == a) staged_.push_back({Napi::Persistent(a->value.As<Napi::Object>()), moved,
                                     static_cast<std::size_t>(a->end() - a->begin()), name});
    a->data = moved;
  }
}

std::string Job::unstage(Napi::Env env) {
  // Check every output first, so that a detached one leaves all of them unwritten.
  std::vector<void*> targets;
  for (const Staged& s : staged_) {
    void* data = nullptr;
    std::size_t bytes = 0;
    if (!typedArrayMemory(env, s.array.Value(), &data, &bytes) || bytes != s.bytes)
      return s.name + ": its buffer was detached (transferred) or resized while the call ran; no result was written";
    targets.push_back(data);
  }
  for (std::size_t i = 0; i < staged_.size(); ++i) std::memmove(targets[i], staged_[i].source, staged_[i].bytes);
  return "";
}

Napi::Error toJsError(Napi::Env env, const std::string& what, std::exception_ptr e) {
  return makeError(env, what, describe(e));
}

Napi::Value run(Napi::Env env, std::unique_ptr<Job> job, bool async, const std::string& what) {
  if (!async) {
    try {
      job->execute();
    } catch (...) {
      throw toJsError(env, what, std::current_exception());
    }
    return job->result(env);
  }
  auto* worker = new JobWorker(env, std::move(job), what);  // deletes itself when done
  Napi::Value promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace bnmf::binding
