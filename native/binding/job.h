// A kernel call prepared on the JS thread (arguments read, arrays referenced) and executed
// either right away (sync) or on a libuv worker thread (async, resolving a Promise).
#pragma once
#include <napi.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bnmf::binding {

struct ArrayArg;

class Job {
 public:
  virtual ~Job();
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

  // For async calls: points the host typed arrays among `args` at job-owned copies (arrays
  // sharing memory keep sharing it, at the same offsets), so the work never reads or writes a
  // caller's ArrayBuffer, which may be transferred (detached, freed) while the work runs. N-API
  // cannot pin a backing store. `outputs` (a subset of args) are copied back by unstage().
  // SharedArrayBuffer memory is never freed while referenced and is used in place.
  void stage(bool async, std::initializer_list<ArrayArg*> args, std::initializer_list<const ArrayArg*> outputs,
             std::initializer_list<const char*> outputNames);
  // On the JS thread after the work: copies the staged outputs into the caller's arrays.
  // Returns "" or why not (an output's buffer was detached or resized meanwhile).
  std::string unstage(Napi::Env env);

 private:
  struct Staged {
    Napi::ObjectReference array;  // the caller's typed array
    const char* source = nullptr;  // its result in job-owned memory
    std::size_t bytes = 0;
    std::string name;
  };
  std::vector<Napi::ObjectReference> refs_;
  std::vector<Napi::Reference<Napi::Value>> externals_;
  std::vector<std::shared_ptr<void>> owners_;
  std::vector<std::pair<void*, std::size_t>> copies_;  // job-owned memory (freed with the job)
  std::vector<Staged> staged_;
};

// Runs the job now (sync) or returns a Promise for it (async). `what` names the public
// function for error messages.
Napi::Value run(Napi::Env env, std::unique_ptr<Job> job, bool async, const std::string& what);

// Gives the calling thread's cached copy blocks (see Job::stage) back to the OS.
void trimCopyPool();

// Converts an exception from the core into a JS error of the matching class.
Napi::Error toJsError(Napi::Env env, const std::string& what, std::exception_ptr e);

}  // namespace bnmf::binding
