// Scratch memory reused across calls. Each calling thread (the JS thread, each libuv worker)
// keeps one growing buffer, so repeated kernel calls touch no fresh pages (first touch is
// slow on these VMs) and concurrent async calls never share scratch space.
#pragma once
#include <cstddef>

namespace bnmf::cpu {

class Workspace {
 public:
  // The calling thread's workspace.
  static Workspace& local();
  // At least `bytes` of 64-byte aligned scratch; earlier contents are not kept.
  void* reserve(std::size_t bytes);
  ~Workspace();

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Carves typed, aligned slices out of one reserved block.
class Arena {
 public:
  explicit Arena(std::size_t totalBytes) : base_(static_cast<char*>(Workspace::local().reserve(totalBytes))) {}
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

}  // namespace bnmf::cpu
