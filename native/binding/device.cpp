#include "binding/device.h"

#include <atomic>
#include <cmath>
#include <string>

#include "binding/job.h"
#include "core/errors.h"
#include "cpu/cpu_backend.h"
#ifdef BETANMF_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif
#ifdef BETANMF_CUDA_EMU
#include "cuda_emu/control.h"
#endif

namespace bnmf::binding {
namespace {

constexpr napi_type_tag kDeviceArrayTag = {0x6265746e6d66ULL, 0x6465766963650001ULL};

// The largest allocation asked for by size: 2^53 − 1 bytes, the largest size a JS number
// holds exactly (and far beyond any device); larger is a RangeError before any allocation.
constexpr double kMaxBytes = 9007199254740991.0;

constexpr const char* kNoCuda = "this build of betanmf has no CUDA backend (compiled without nvcc)";

DeviceInfo cudaDeviceInfo() {
#ifdef BETANMF_WITH_CUDA
  return cuda::deviceInfo();
#else
  DeviceInfo i;
  i.reason = kNoCuda;
  return i;
#endif
}

Napi::Value cudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DeviceInfo d = cudaDeviceInfo();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", d.compiled);
  o.Set("available", d.available);
  if (!d.available) o.Set("reason", d.reason);
  if (!d.name.empty()) o.Set("name", d.name);
  if (d.memoryBytes) o.Set("memoryBytes", double(d.memoryBytes));
  if (d.major) o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
  if (d.compiled) {
    o.Set("driverVersion", d.driverVersion);
    o.Set("runtimeVersion", d.runtimeVersion);
  }
  if (!d.blasLibrary.empty()) o.Set("cublas", d.blasLibrary);
  return o;
}

// Tells V8 about device bytes held by JS values (so it collects them with their size in
// mind), and takes them back when the memory is freed.
std::atomic<std::int64_t> reportedTotal{0};  // what all device arrays have told V8 now

void report(Napi::Env env, DeviceArray& a, std::int64_t bytes) {
  if (bytes == 0) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  a.reportedBytes += bytes;
  reportedTotal += bytes;
}

// JS device arrays holding memory now.
std::atomic<std::int64_t> liveArrays{0};

void releaseArray(Napi::Env env, DeviceArray& a) {
  report(env, a, -a.reportedBytes);
  if (a.owner) --liveArrays;
  a.owner.reset();
  a.data = nullptr;
}

// The JS handle of a device array.
Napi::Value wrap(Napi::Env env, DeviceArray* a) {
  auto ext = Napi::External<DeviceArray>::New(env, a, [](Napi::Env e, DeviceArray* p) {
    releaseArray(e, *p);
    delete p;
  });
  ext.TypeTag(&kDeviceArrayTag);
  return ext;
}

DeviceArray& handleArg(const Napi::CallbackInfo& info, std::size_t i) {
  DeviceArray* a = deviceArrayOf(info[i]);
  if (!a) throw Napi::TypeError::New(info.Env(), "expected a device array handle");
  if (!a->owner) throw Napi::Error::New(info.Env(), "the device matrix was disposed");
  return *a;
}

// deviceAlloc(float32, length) → a handle to zeroed device memory. Takes no device lock.
Napi::Value deviceAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool f32 = info[0].ToBoolean().Value();
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "length: expected a number");
  const double len = info[1].As<Napi::Number>().DoubleValue();
  const double elem = f32 ? 4 : 8;
  if (!(len >= 0) || len != std::floor(len) || len * elem > kMaxBytes)
    throw Napi::RangeError::New(env, "length: expected an integer number of elements of at most 2^53 − 1 bytes in all, received " +
                                         std::to_string(len) + " " + (f32 ? "float32" : "float64") + " elements");
  auto a = std::make_unique<DeviceArray>();
  a->float32 = f32;
  a->length = static_cast<std::size_t>(len);
  try {
    std::shared_ptr<Allocation> mem = acceleratorFor(Device::Cuda).allocateZeroed(a->length * (f32 ? 4 : 8));
    a->data = mem->data();
    a->owner = mem;
    ++liveArrays;
  } catch (...) {
    throw toJsError(env, "deviceAlloc", std::current_exception());
  }
  const std::int64_t bytes = static_cast<std::int64_t>(a->length * (f32 ? 4 : 8));
  Napi::Value handle = wrap(env, a.get());
  report(env, *a.release(), bytes);
  return handle;
}

// Copies between a typed array and device memory, sync or as a Promise. Takes no device lock.
class TransferJob final : public Job {
 public:
  TransferJob(const Napi::CallbackInfo& info, bool upload) : upload_(upload) {
    DeviceArray& a = handleArg(info, 1);
    void* host = nullptr;
    size_t length = 0;
    napi_typedarray_type t;
    if (napi_get_typedarray_info(info.Env(), info[2], &t, &length, &host, nullptr, nullptr) != napi_ok ||
        (t != napi_float32_array && t != napi_float64_array))
      throw Napi::TypeError::New(info.Env(), "expected a Float32Array or Float64Array");
    if (length != a.length || (t == napi_float32_array) != a.float32)
      throw Napi::RangeError::New(info.Env(), "host and device arrays differ in length or dtype");
    device_ = a.data;
    where_ = a.device;
    host_ = host;
    bytes_ = length * (a.float32 ? 4 : 8);
    owner_ = a.owner;
    keep({info[1], info[2]});
  }
  void execute() override {
    if (bytes_ == 0) return;
    Accelerator& acc = acceleratorFor(where_);
    if (upload_) acc.upload(device_, host_, bytes_);
    else acc.download(host_, device_, bytes_);
  }

 private:
  bool upload_;
  Device where_ = Device::Cuda;
  void* device_ = nullptr;
  void* host_ = nullptr;
  std::size_t bytes_ = 0;
  std::shared_ptr<void> owner_;  // the memory stays allocated while the copy runs
};

Napi::Value transfer(const Napi::CallbackInfo& info, bool upload) {
  const char* what = upload ? "upload" : "read";
  std::unique_ptr<Job> job;
  try {
    job = std::make_unique<TransferJob>(info, upload);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(info.Env(), what, std::current_exception());
  }
  return run(info.Env(), std::move(job), info[0].ToBoolean().Value(), what);
}

Napi::Value deviceUpload(const Napi::CallbackInfo& info) { return transfer(info, true); }
Napi::Value deviceDownload(const Napi::CallbackInfo& info) { return transfer(info, false); }

// Frees the memory now (Matrix#dispose); jobs still using it keep it until they finish.
Napi::Value deviceFree(const Napi::CallbackInfo& info) {
  if (DeviceArray* a = deviceArrayOf(info[0])) releaseArray(info.Env(), *a);
  return info.Env().Undefined();
}

// deviceMemory() → { arrays, allocations, bytes, reportedBytes }: JS device arrays holding
// memory, device allocations of any kind (those arrays, backend scratch, temporaries) with their
// bytes, and the device bytes reported to V8 (process.memoryUsage() does not show those). Tests
// check that they return to their baseline (addon.liveBuffers() counts backend buffers).
Napi::Value deviceMemory(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("arrays", double(liveArrays.load()));
  o.Set("allocations", double(deviceMemoryCounts().allocations.load()));
  o.Set("bytes", double(deviceMemoryCounts().bytes.load()));
  o.Set("reportedBytes", double(reportedTotal.load()));
  return o;
}

#ifdef BETANMF_CUDA_EMU
// The host emulation's test controls: fail(call, cudaError, count), delayNextLaunch(ms), state().
Napi::Object emuControls(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fail", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
          bnmfEmuFail(info[0].As<Napi::String>().Utf8Value().c_str(), info[1].As<Napi::Number>().Int32Value(),
                      info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 1);
        }));
  o.Set("delayNextLaunch", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
          bnmfEmuDelayNextLaunch(info[0].As<Napi::Number>().Int32Value());
        }));
  o.Set("state", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
          const BnmfEmuState s = bnmfEmuState();
          Napi::Object r = Napi::Object::New(info.Env());
          r.Set("poolReleaseThreshold", Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(s.poolReleaseThreshold)));
          r.Set("liveAllocations", double(s.liveAllocations));
          r.Set("liveBytes", double(s.liveBytes));
          r.Set("mallocAsyncCalls", double(s.mallocAsyncCalls));
          r.Set("mallocCalls", double(s.mallocCalls));
          r.Set("launches", double(s.launches));
          r.Set("uploadedBytes", double(s.uploadedBytes));
          r.Set("downloadedBytes", double(s.downloadedBytes));
          r.Set("sleeping", s.sleeping != 0);
          r.Set("sticky", s.sticky);
          return r;
        }));
  return o;
}
#endif

}  // namespace

DeviceArray* deviceArrayOf(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<DeviceArray>>();
  if (!ext.CheckTypeTag(&kDeviceArrayTag)) return nullptr;
  return ext.Data();
}

Accelerator& acceleratorFor(Device device) {
  if (device != Device::Cuda) throw ResourceError(std::string("no device memory on ") + deviceName(device));
#ifdef BETANMF_WITH_CUDA
  return cuda::accelerator();
#else
  throw ResourceError(kNoCuda);
#endif
}

template <typename T>
Backend<T>& backendFor(Device device) {
  if (device == Device::Cpu) return cpu::backend<T>();
#ifdef BETANMF_WITH_CUDA
  return cuda::backend<T>();
#else
  throw ResourceError(kNoCuda);
#endif
}
template Backend<float>& backendFor<float>(Device);
template Backend<double>& backendFor<double>(Device);

DeviceLock::DeviceLock(Device device) {
  if (device != Device::Cpu) lock_ = acceleratorFor(device).lock();
}

void registerDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaInfo", Napi::Function::New(env, cudaInfo, "cudaInfo"));
  exports.Set("deviceAlloc", Napi::Function::New(env, deviceAlloc, "deviceAlloc"));
  exports.Set("deviceUpload", Napi::Function::New(env, deviceUpload, "deviceUpload"));
  exports.Set("deviceDownload", Napi::Function::New(env, deviceDownload, "deviceDownload"));
  exports.Set("deviceFree", Napi::Function::New(env, deviceFree, "deviceFree"));
  exports.Set("deviceMemory", Napi::Function::New(env, deviceMemory, "deviceMemory"));
#ifdef BETANMF_CUDA_EMU
  exports.Set("emu", emuControls(env));
#endif
}

}  // namespace bnmf::binding
