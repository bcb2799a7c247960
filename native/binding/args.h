// Reading JS arguments into core views. The TypeScript layer has validated everything; these
// checks are a second line so that a wrong call from JS can never reach memory it should not.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "binding/device.h"
#include "core/backend.h"
#include "core/matrix.h"

namespace bnmf::binding {

enum class DType { Float32, Float64 };

struct ArrayArg {
  Napi::Value value;
  void* data = nullptr;
  std::size_t length = 0;  // elements
  DType dtype = DType::Float64;
  Device device = Device::Cpu;  // where the memory is: a typed array (Cpu) or a DeviceArray handle
  std::shared_ptr<void> owner;  // keeps device memory allocated while a job uses it

  const char* begin() const { return static_cast<const char*>(data); }
  const char* end() const { return begin() + length * (dtype == DType::Float32 ? 4 : 8); }
  bool overlaps(const ArrayArg& o) const { return data && o.data && begin() < o.end() && o.begin() < end(); }
  bool sameRange(const ArrayArg& o) const { return data == o.data && length == o.length; }
};

// A JS value (a typed array or a device array handle) read as an array argument; an optional
// one may be null or undefined (then data is null).
inline ArrayArg arrayValue(Napi::Env env, Napi::Value value, const char* name, bool optional = false) {
  ArrayArg a;
  a.value = value;
  if (optional && (value.IsNull() || value.IsUndefined())) return a;
  if (DeviceArray* d = deviceArrayOf(a.value)) {
    if (!d->owner) throw Napi::Error::New(env, std::string(name) + ": the device matrix was disposed");
    a.device = d->device;
    a.data = d->data;
    a.length = d->length;
    a.dtype = d->float32 ? DType::Float32 : DType::Float64;
    a.owner = d->owner;
    return a;
  }
  if (!a.value.IsTypedArray())
    throw Napi::TypeError::New(env, std::string(name) + ": expected a Float32Array or Float64Array");
  // napi_get_typedarray_info gives the first element's address for any backing store
  // (ArrayBuffer, SharedArrayBuffer, resizable); ArrayBuffer().Data() fails on shared ones.
  napi_typedarray_type t;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, a.value, &t, &length, &data, nullptr, nullptr) != napi_ok)
    throw Napi::TypeError::New(env, std::string(name) + ": expected a readable typed array");
  if (t != napi_float32_array && t != napi_float64_array)
    throw Napi::TypeError::New(env, std::string(name) + ": expected a Float32Array or Float64Array");
  a.dtype = t == napi_float32_array ? DType::Float32 : DType::Float64;
  a.length = length;
  a.data = data;
  return a;
}

inline ArrayArg arrayArg(const Napi::CallbackInfo& info, std::size_t i, const char* name, bool optional = false) {
  return arrayValue(info.Env(), info[i], name, optional);
}

inline Index dimArg(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (!info[i].IsNumber()) throw Napi::TypeError::New(env, std::string(name) + ": expected a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<std::int64_t>(d)) ||
      d > static_cast<double>(std::numeric_limits<std::int32_t>::max()))
    throw Napi::RangeError::New(env, std::string(name) + ": expected an integer in [0, 2^31 − 1]");
  return static_cast<Index>(d);
}

inline double numberArg(const Napi::CallbackInfo& info, std::size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// A typed array seen as a rows×cols matrix of T, after checking its element type and length.
template <typename T>
Mat<T> matArg(Napi::Env env, const ArrayArg& a, Index rows, Index cols, const char* name) {
  const DType want = sizeof(T) == 4 ? DType::Float32 : DType::Float64;
  if (a.dtype != want)
    throw Napi::TypeError::New(env, std::string(name) + ": expected the same dtype as the other operands");
  if (static_cast<std::uint64_t>(a.length) != static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols))
    throw Napi::RangeError::New(env, std::string(name) + ": expected " + std::to_string(rows) + "×" +
                                         std::to_string(cols) + " = " + std::to_string(rows * cols) +
                                         " elements, received " + std::to_string(a.length));
  return Mat<T>(static_cast<T*>(a.data), rows, cols);
}

// A result matrix. When it shares memory with an input the work goes to scratch memory of
// the backend and is copied over at the end, so `out` may alias any input.
template <typename T>
class Output {
 public:
  Output() = default;
  Output(Mat<T> target, bool viaScratch) : target_(target), viaScratch_(viaScratch) {}

  Mat<T> prepare(Backend<T>& be) {  // on the worker thread
    if (!viaScratch_ || target_.data == nullptr) return target_;
    scratch_ = be.allocate(target_.size());
    return Mat<T>(scratch_->data(), target_.rows, target_.cols);
  }
  void commit(Backend<T>& be) {
    if (scratch_) be.copy(Mat<T>(scratch_->data(), target_.rows, target_.cols), target_);
  }

 private:
  Mat<T> target_;
  bool viaScratch_ = false;
  std::unique_ptr<Buffer<T>> scratch_;
};

// All operands of one call must live in the same place (the CPU or a device); returns it.
inline Device sameDevice(Napi::Env env, std::initializer_list<const ArrayArg*> args) {
  bool first = true;
  Device device = Device::Cpu;
  for (const ArrayArg* a : args) {
    if (!a->data && a->device == Device::Cpu && a->length == 0 && (a->value.IsNull() || a->value.IsUndefined())) continue;
    if (first) device = a->device, first = false;
    else if (a->device != device) throw Napi::Error::New(env, "operands on different devices (move them with Matrix#to)");
  }
  return device;
}

// Whether an output must go through scratch memory: it overlaps an input, unless the kernel
// is elementwise and the output is exactly that input (in-place is then safe).
inline bool needsScratch(const ArrayArg& out, const std::vector<const ArrayArg*>& inputs, bool elementwise) {
  for (const ArrayArg* in : inputs) {
    if (!out.overlaps(*in)) continue;
    if (elementwise && out.sameRange(*in)) continue;
    return true;
  }
  return false;
}

}  // namespace bnmf::binding
