// The CPU backend: OpenBLAS GEMMs and fused elementwise loops on row blocks that stay in
// cache, spread over the cores with OpenBLAS itself kept single-threaded (no oversubscription).
#pragma once
#include "core/backend.h"

namespace bnmf::cpu {

// The process-wide CPU backend for float or double (stateless; safe to call concurrently).
template <typename T>
Backend<T>& backend();

}  // namespace bnmf::cpu
