#include "cuda/cublas_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/errors.h"

namespace bnmf::cuda {
namespace {

struct Loaded {
  Cublas api;
  bool ok = false;
  std::string reason;
};

template <typename F>
bool bind(void* lib, const char* name, F& fn, std::string& reason) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) reason = std::string("symbol ") + name + " missing";
  return fn != nullptr;
}

Loaded load() {
  Loaded l;
  std::string tried;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("BETANMF_CUBLAS"); env && *env) candidates.emplace_back(env);
  candidates.emplace_back("libcublas.so.13");
  candidates.emplace_back("libcublas.so.12");
  for (const std::string& path : candidates) {
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* err = dlerror();
      tried += (tried.empty() ? "" : "; ") + path + ": " + (err ? err : "not found");
      continue;
    }
    std::string why;
    Cublas& c = l.api;
    if (bind(lib, "cublasCreate_v2", c.create, why) && bind(lib, "cublasSetStream_v2", c.setStream, why) &&
        bind(lib, "cublasSgemm_v2", c.sgemm, why) && bind(lib, "cublasDgemm_v2", c.dgemm, why)) {
      c.path = path;
      l.ok = true;
      return l;
    }
    tried += (tried.empty() ? "" : "; ") + path + ": " + why;
    dlclose(lib);
  }
  l.reason = "cuBLAS not found (" + tried + "); set BETANMF_CUBLAS to the path of libcublas.so";
  return l;
}

}  // namespace

const Cublas* loadCublas(std::string* reason) {
  static Loaded loaded = load();
  if (!loaded.ok) {
    if (reason) *reason = loaded.reason;
    return nullptr;
  }
  return &loaded.api;
}

void checkCublas(int status, const char* call) {
  if (status == 0) return;
  static const char* names[] = {"SUCCESS", "NOT_INITIALIZED", "?", "ALLOC_FAILED", "?", "?", "?", "INVALID_VALUE",
                                "ARCH_MISMATCH", "?", "?", "MAPPING_ERROR", "?", "EXECUTION_FAILED", "INTERNAL_ERROR",
                                "NOT_SUPPORTED", "LICENSE_ERROR"};
  const char* name = status >= 0 && status < 17 ? names[status] : "?";
  throw ResourceError(std::string(call) + " failed: status " + std::to_string(status) + " (CUBLAS_STATUS_" + name + ")");
}

}  // namespace bnmf::cuda
