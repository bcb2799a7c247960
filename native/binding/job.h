// A kernel call prepared on the JS thread (arguments read, arrays referenced) and executed
// either right away (sync) or on a libuv worker thread (async, resolving a Promise).
#pragma once
#include <napi.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace bnmf::binding {

class Job {
 public:
  virtual ~Job() = default;
  // The numeric work. Runs without touching JS (possibly on a worker thread).
  virtual void execute() = 0;
  // The JS value the call returns or resolves to.
  virtual Napi::Value result(Napi::Env env) { return env.Undefined(); }

  // Keeps the argument arrays (inputs and outputs) alive until the work has finished.
  void keep(std::initializer_list<Napi::Value> values) {
    for (const Napi::Value& v : values)
      if (v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
      else if (v.IsExternal()) externals_.push_back(Napi::Persistent(v));
  }
  // Keeps device memory allocated until the work has finished, even if it is disposed meanwhile.
  void hold(std::shared_ptr<void> owner) {
    if (owner) owners_.push_back(std::move(owner));
  }

 private:
  std::vector<Napi::ObjectReference> refs_;
  std::vector<Napi::Reference<Napi::Value>> externals_;
  std::vector<std::shared_ptr<void>> owners_;
};

// Runs the job now (sync) or returns a Promise for it (async). `what` names the public
// function for error messages.
Napi::Value run(Napi::Env env, std::unique_ptr<Job> job, bool async, const std::string& what);

// Converts an exception from the core into a JS error of the matching class.
Napi::Error toJsError(Napi::Env env, const std::string& what, std::exception_ptr e);

}  // namespace bnmf::binding
