#include "cpu/workspace.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <string>

#include "core/errors.h"

namespace bnmf::cpu {

void* pageAlloc(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  // MAP_POPULATE: the pages are mapped in one go; touching them one fault at a time is ~20 µs a
  // page on these VMs (100+ ms for 20 MB).
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void pageFree(void* p, std::size_t bytes) {
  if (p) munmap(p, bytes == 0 ? 1 : bytes);
}

Workspace& Workspace::local() {
  thread_local Workspace ws;
  return ws;
}

void* Workspace::reserve(std::size_t bytes) {
  if (bytes <= capacity_) return data_;
  release();
  const std::size_t rounded = (bytes + 63) & ~std::size_t(63);
  void* p = nullptr;
  try {
    p = rounded > kKeep ? pageAlloc(rounded) : std::aligned_alloc(64, rounded);
  } catch (const std::bad_alloc&) {
    p = nullptr;
  }
  if (!p) throw ResourceError("could not allocate " + std::to_string(rounded) + " bytes of workspace");
  data_ = p;
  capacity_ = rounded;
  return data_;
}

void Workspace::release() {
  if (capacity_ > kKeep) pageFree(data_, capacity_);
  else std::free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

void Workspace::trim() {
  if (capacity_ > kKeep) release();
}

Workspace::~Workspace() { release(); }

std::size_t workspaceBytes() { return Workspace::local().capacity(); }

}  // namespace bnmf::cpu
