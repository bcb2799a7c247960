#include "cpu/workspace.h"

#include <cstdlib>
#include <string>

#include "core/errors.h"

namespace bnmf::cpu {

Workspace& Workspace::local() {
  thread_local Workspace ws;
  return ws;
}

void* Workspace::reserve(std::size_t bytes) {
  if (bytes <= capacity_) return data_;
  std::free(data_);
  data_ = nullptr;
  capacity_ = 0;
  const std::size_t rounded = (bytes + 63) & ~std::size_t(63);
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw ResourceError("could not allocate " + std::to_string(rounded) + " bytes of workspace");
  data_ = p;
  capacity_ = rounded;
  return data_;
}

void Workspace::trim() {
  if (capacity_ <= kKeep) return;
  std::free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

Workspace::~Workspace() { std::free(data_); }

std::size_t workspaceBytes() { return Workspace::local().capacity(); }

}  // namespace bnmf::cpu
