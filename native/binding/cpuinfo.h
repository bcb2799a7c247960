#pragma once
#include <napi.h>

namespace bnmf::binding {
// Adds cpuIsa() (the CPU's vector ISA and the copy of our loops in use) to the exports, and
// fixes that choice now, while the addon loads.
void registerCpuInfo(Napi::Env env, Napi::Object exports);
}
