#pragma once
#include <napi.h>

namespace bnmf::binding {
// Adds hParts, wParts, muUpdateH, betaDivergence, gemmFloor, gemm, muUpdate and updateGrad to the exports.
void registerKernels(Napi::Env env, Napi::Object exports);
}
