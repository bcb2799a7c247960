#pragma once
#include <napi.h>

namespace bnmf::binding {
// Adds hParts, wParts, muUpdateH, betaDivergence, muUpdate and updateGrad to the exports.
void registerKernels(Napi::Env env, Napi::Object exports);
}
