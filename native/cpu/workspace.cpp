#include "cpu/workspace.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "core/errors.h"

namespace bnmf::cpu {

// Touching fresh 4 KiB pages one fault at a time is ~20 µs a page on these VMs (100+ ms for
// 20 MB). Blocks of 2 MiB or more are aligned to 2 MiB and asked for transparent huge pages
// (512 times fewer faults: a 47 MB copy of X went from ~300 ms to ~20–70 ms), then populated
// in one call; smaller ones are populated by mmap itself.
namespace {
constexpr std::size_t kHuge = std::size_t(2) << 20;
std::size_t mappedSize(std::size_t bytes) { return bytes >= kHuge ? (bytes + kHuge - 1) / kHuge * kHuge : bytes; }
}  // namespace

void* pageAlloc(std::size_t bytes, bool populate) {
  if (bytes == 0) bytes = 1;
  const std::size_t size = mappedSize(bytes);
  if (size < kHuge) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void* raw = mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(raw);
  char* aligned = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(base) + kHuge - 1) & ~(kHuge - 1));
  if (aligned > base) munmap(base, aligned - base);
  if (char* end = aligned + size; end < base + size + kHuge) munmap(end, base + size + kHuge - end);
#ifdef MADV_HUGEPAGE
  madvise(aligned, size, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  if (populate) madvise(aligned, size, MADV_POPULATE_WRITE);  // best effort (Linux ≥ 5.14)
#endif
  return aligned;
}

void pageFree(void* p, std::size_t bytes) {
  if (p) munmap(p, mappedSize(bytes == 0 ? 1 : bytes));
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
