// Module entry: the kernels plus what `inspect` needs (threads, OpenBLAS configuration).
// NODE_API_MODULE expands to NAPI_MODULE_INIT (node_api.h), a context-aware module, so it
// loads in worker_threads too.
#include <napi.h>

#include <cblas.h>

#include "binding/cpuinfo.h"
#include "binding/device.h"
#include "binding/fit.h"
#include "binding/kernels.h"
#include "binding/shards.h"
#include "cpu/parallel.h"

namespace {

Napi::Value config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("numThreads", bnmf::cpu::maxThreads());
  o.Set("openblasConfig", openblas_get_config());
  o.Set("openblasCore", openblas_get_corename());
  o.Set("openblasThreads", openblas_get_num_threads());
#ifdef BETANMF_WITH_CUDA
  o.Set("cudaCompiled", true);
#else
  o.Set("cudaCompiled", false);
#endif
#if defined(__x86_64__) || defined(__i386__)
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("avx2", __builtin_cpu_supports("avx2") != 0);
  cpu.Set("fma", __builtin_cpu_supports("fma") != 0);
  cpu.Set("avx512f", __builtin_cpu_supports("avx512f") != 0);
  o.Set("cpuFeatures", cpu);
#endif
  return o;
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "threads: expected a number");
  bnmf::cpu::setMaxThreads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), bnmf::cpu::maxThreads());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Our threads split the work; OpenBLAS runs inside each of them single-threaded, so the two
  // never oversubscribe the cores.
  openblas_set_num_threads(1);
  bnmf::binding::registerKernels(env, exports);
  bnmf::binding::registerDevice(env, exports);
  bnmf::binding::registerFit(env, exports);
  bnmf::binding::registerShards(env, exports);
  bnmf::binding::registerCpuInfo(env, exports);
  exports.Set("config", Napi::Function::New(env, config, "config"));
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  return exports;
}

NODE_API_MODULE(betanmf, Init)
