// cpuIsa(): what `betanmf inspect` and `bench` report about the vector units in use.
#include "binding/cpuinfo.h"

#include "cpu/isa.h"

namespace bnmf::binding {
namespace {

Napi::Value cpuIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cpu::IsaChoice& c = cpu::loopIsa();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cpu", cpu::isaName(c.cpuBest));
  o.Set("loops", cpu::isaName(c.active));
  o.Set("requested", c.requested ? Napi::Value(Napi::String::New(env, c.requested)) : env.Null());
  if (c.note) o.Set("note", c.note);
  Napi::Object features = Napi::Object::New(env);
#if defined(__x86_64__) && defined(__GNUC__)
  features.Set("avx2", __builtin_cpu_supports("avx2") != 0);
  features.Set("fma", __builtin_cpu_supports("fma") != 0);
  features.Set("avx512f", __builtin_cpu_supports("avx512f") != 0);
  features.Set("avx512bw", __builtin_cpu_supports("avx512bw") != 0);
  features.Set("avx512dq", __builtin_cpu_supports("avx512dq") != 0);
  features.Set("avx512vl", __builtin_cpu_supports("avx512vl") != 0);
#endif
  o.Set("features", features);
  return o;
}

}  // namespace

void registerCpuInfo(Napi::Env env, Napi::Object exports) {
  cpu::loopIsa();  // read BETANMF_CPU_ISA once, at load
  exports.Set("cpuIsa", Napi::Function::New(env, cpuIsa, "cpuIsa"));
}

}  // namespace bnmf::binding
