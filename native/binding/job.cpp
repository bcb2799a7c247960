#include "binding/job.h"

#include <new>

#include "core/errors.h"

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
      : Napi::AsyncWorker(env, "betanmf"), job_(std::move(job)), what_(std::move(what)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      job_->execute();
    } catch (...) {
      failure_ = describe(std::current_exception());
      SetError(failure_.message);
    }
  }
  void OnOK() override { deferred_.Resolve(job_->result(Env())); }
  void OnError(const Napi::Error&) override { deferred_.Reject(makeError(Env(), what_, failure_).Value()); }

 private:
  std::unique_ptr<Job> job_;
  std::string what_;
  Napi::Promise::Deferred deferred_;
  Failure failure_;
};

}  // namespace

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
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace bnmf::binding
