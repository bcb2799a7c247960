#pragma once
#include <napi.h>

namespace bnmf::binding {
// Adds the Fit class (one solver run's state, owned natively) and liveBuffers to the exports.
void registerFit(Napi::Env env, Napi::Object exports);
}
