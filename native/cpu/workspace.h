// Scratch memory reused across calls. Each calling thread (the JS thread, each libuv worker)
// keeps one buffer, so repeated kernel calls touch no fresh pages (first touch is slow on
// these VMs) and concurrent async calls never share scratch space. A buffer above
// Workspace::kKeep is freed when the call that needed it ends (an Arena going out of scope),
// so a thread never holds more than kKeep between calls, whatever shapes it once served.
#pragma once
#include <cstddef>

namespace bnmf::cpu {

class Workspace {
 public:
  // What a thread may keep between calls (a kernel's blocks are L2-sized, so ordinary shapes
  // stay far below it; the β=2 K×K Gram matrix or rows of a very wide X go above).
  static constexpr std::size_t kKeep = std::size_t(16) << 20;

  // The calling thread's workspace.
  static Workspace& local();
  // At least `bytes` of 64-byte aligned scratch; earlier contents are not kept.
  void* reserve(std::size_t bytes);
  // Frees the buffer if it is larger than kKeep (at the end of a call).
  void trim();
  std::size_t capacity() const { return capacity_; }
  ~Workspace();

 private:
  void release();
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Carves typed, aligned slices out of one reserved block; trims the workspace when done.
// One Arena per thread at a time (kernels do not nest them).
class Arena {
 public:
  explicit Arena(std::size_t totalBytes) : base_(static_cast<char*>(Workspace::local().reserve(totalBytes))) {}
  ~Arena() { Workspace::local().trim(); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  template <typename T>
  T* take(std::size_t count) {
    T* p = reinterpret_cast<T*>(base_ + offset_);
    offset_ += roundUp(count * sizeof(T));
    return p;
  }
  static std::size_t roundUp(std::size_t bytes) { return (bytes + 63) & ~std::size_t(63); }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

// Memory for large short-lived blocks (scratch above kKeep, an async job's copies), taken from
// and given back to the OS directly: glibc keeps freed blocks of up to 32 MiB in its heaps (one
// per thread), so a free() there does not lower the resident size. Both throw/accept nullptr.
// Pages are mapped up front unless `populate` is false (then on first write).
void* pageAlloc(std::size_t bytes, bool populate = true);
void pageFree(void* p, std::size_t bytes);

// Bytes of scratch the calling thread holds now (for tests and diagnostics).
std::size_t workspaceBytes();

}  // namespace bnmf::cpu
