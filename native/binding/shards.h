#pragma once
#include <napi.h>

namespace bnmf::binding {
// Adds combineShards (a sharded fit's W step, core/solver.h) to the exports.
void registerShards(Napi::Env env, Napi::Object exports);
}
