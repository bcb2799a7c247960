#include "binding/device.h"

#include <cstring>

#include "binding/job.h"
#include "core/errors.h"
#include "cpu/cpu_backend.h"
#ifdef BETANMF_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/context.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#endif

namespace bnmf::binding {
namespace {

constexpr napi_type_tag kDeviceArrayTag = {0x6265746e6d66ULL, 0x6465766963650001ULL};

[[noreturn]] [[maybe_unused]] void noCuda() {
#ifdef BETANMF_WITH_CUDA
  cuda::Context::get();  // throws with the reason
  throw ResourceError("CUDA is not available");
#else
  throw ResourceError("this build of betanmf has no CUDA backend (compiled without nvcc)");
#endif
}

Napi::Value cudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef BETANMF_WITH_CUDA
  const cuda::Probe& p = cuda::probe();
  o.Set("compiled", true);
  o.Set("available", p.available);
  if (!p.available) o.Set("reason", p.reason);
  if (!p.name.empty()) o.Set("name", p.name);
  if (p.memoryBytes) o.Set("memoryBytes", double(p.memoryBytes));
  if (p.major) o.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  o.Set("driverVersion", p.driverVersion);
  o.Set("runtimeVersion", p.runtimeVersion);
  if (!p.cublasPath.empty()) o.Set("cublas", p.cublasPath);
#else
  o.Set("compiled", false);
  o.Set("available", false);
  o.Set("reason", "this build of betanmf has no CUDA backend (compiled without nvcc)");
#endif
  return o;
}

#ifdef BETANMF_WITH_CUDA
// The JS handle of a device array.
Napi::Value wrap(Napi::Env env, DeviceArray* a) {
  auto ext = Napi::External<DeviceArray>::New(env, a, [](Napi::Env, DeviceArray* p) { delete p; });
  ext.TypeTag(&kDeviceArrayTag);
  return ext;
}
#endif

DeviceArray& handleArg(const Napi::CallbackInfo& info, std::size_t i) {
  DeviceArray* a = deviceArrayOf(info[i]);
  if (!a) throw Napi::TypeError::New(info.Env(), "expected a device array handle");
  if (!a->owner) throw Napi::Error::New(info.Env(), "the device matrix was disposed");
  return *a;
}

// deviceAlloc(float32, length) → a handle to zeroed device memory.
Napi::Value deviceAlloc(const Napi::CallbackInfo& info) {
#ifdef BETANMF_WITH_CUDA
  const bool f32 = info[0].ToBoolean().Value();
  const double len = info[1].As<Napi::Number>().DoubleValue();
  auto* a = new DeviceArray();
  a->float32 = f32;
  a->length = static_cast<std::size_t>(len);
  try {
    std::lock_guard<std::mutex> lock(cuda::Context::get().lock());
    auto mem = std::make_shared<cuda::DeviceMemory>(a->length * (f32 ? 4 : 8));
    cuda::check(cudaMemsetAsync(mem->get(), 0, mem->bytes(), cuda::Context::get().stream()), "cudaMemsetAsync");
    cuda::Context::get().synchronize();
    a->data = mem->get();
    a->owner = mem;
  } catch (...) {
    delete a;
    throw toJsError(info.Env(), "deviceAlloc", std::current_exception());
  }
  return wrap(info.Env(), a);
#else
  try { noCuda(); } catch (...) { throw toJsError(info.Env(), "deviceAlloc", std::current_exception()); }
#endif
}

#ifdef BETANMF_WITH_CUDA
// Copies between a typed array and device memory, sync or as a Promise.
class TransferJob final : public Job {
 public:
  TransferJob(const Napi::CallbackInfo& info, bool upload) : upload_(upload) {
    DeviceArray& a = handleArg(info, 1);
    auto ta = info[2].As<Napi::TypedArray>();
    void* host = nullptr;
    size_t length = 0;
    napi_typedarray_type t;
    if (napi_get_typedarray_info(info.Env(), info[2], &t, &length, &host, nullptr, nullptr) != napi_ok ||
        (t != napi_float32_array && t != napi_float64_array))
      throw Napi::TypeError::New(info.Env(), "expected a Float32Array or Float64Array");
    if (length != a.length || (t == napi_float32_array) != a.float32)
      throw Napi::RangeError::New(info.Env(), "host and device arrays differ in length or dtype");
    device_ = a.data;
    host_ = host;
    bytes_ = length * (a.float32 ? 4 : 8);
    owner_ = a.owner;
    keep({info[1], info[2]});
    (void)ta;
  }
  void execute() override {
    if (bytes_ == 0) return;
    cuda::Context& ctx = cuda::Context::get();
    std::lock_guard<std::mutex> lock(ctx.lock());
    cuda::check(cudaMemcpyAsync(upload_ ? device_ : host_, upload_ ? host_ : device_, bytes_,
                                upload_ ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, ctx.stream()),
                "cudaMemcpyAsync");
    ctx.synchronize();
  }

 private:
  bool upload_;
  void* device_ = nullptr;
  void* host_ = nullptr;
  std::size_t bytes_ = 0;
  std::shared_ptr<void> owner_;  // the memory stays allocated while the copy runs
};
#endif

Napi::Value transfer(const Napi::CallbackInfo& info, bool upload) {
#ifdef BETANMF_WITH_CUDA
  return run(info.Env(), std::make_unique<TransferJob>(info, upload), info[0].ToBoolean().Value(), upload ? "upload" : "read");
#else
  try { noCuda(); } catch (...) { throw toJsError(info.Env(), upload ? "upload" : "read", std::current_exception()); }
#endif
}

Napi::Value deviceUpload(const Napi::CallbackInfo& info) { return transfer(info, true); }
Napi::Value deviceDownload(const Napi::CallbackInfo& info) { return transfer(info, false); }

// Frees the memory now (Matrix#dispose); jobs still using it keep it until they finish.
Napi::Value deviceFree(const Napi::CallbackInfo& info) {
  if (DeviceArray* a = deviceArrayOf(info[0])) {
    a->owner.reset();
    a->data = nullptr;
  }
  return info.Env().Undefined();
}

}  // namespace

DeviceArray* deviceArrayOf(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<DeviceArray>>();
  if (!ext.CheckTypeTag(&kDeviceArrayTag)) return nullptr;
  return ext.Data();
}

template <typename T>
Backend<T>& backendFor(bool device) {
  if (!device) return cpu::backend<T>();
#ifdef BETANMF_WITH_CUDA
  return cuda::backend<T>();
#else
  noCuda();
#endif
}
template Backend<float>& backendFor<float>(bool);
template Backend<double>& backendFor<double>(bool);

DeviceLock::DeviceLock(bool device) {
#ifdef BETANMF_WITH_CUDA
  if (device) lock_ = std::unique_lock<std::mutex>(cuda::Context::get().lock());
#else
  (void)device;
#endif
}

void registerDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaInfo", Napi::Function::New(env, cudaInfo, "cudaInfo"));
  exports.Set("deviceAlloc", Napi::Function::New(env, deviceAlloc, "deviceAlloc"));
  exports.Set("deviceUpload", Napi::Function::New(env, deviceUpload, "deviceUpload"));
  exports.Set("deviceDownload", Napi::Function::New(env, deviceDownload, "deviceDownload"));
  exports.Set("deviceFree", Napi::Function::New(env, deviceFree, "deviceFree"));
}

}  // namespace bnmf::binding
