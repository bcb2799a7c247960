// Row-major matrix views over memory owned elsewhere (a JS typed array, a workspace or a
// device buffer). Rows are contiguous with stride `ld` (>= cols), which lets a row block of a
// larger matrix be a view too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace bnmf {

using Index = std::int64_t;

template <typename T>
struct Mat {
  T* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index ld = 0;

  Mat() = default;
  Mat(T* d, Index r, Index c) : data(d), rows(r), cols(c), ld(c) {}
  Mat(T* d, Index r, Index c, Index stride) : data(d), rows(r), cols(c), ld(stride) {}

  T* row(Index i) const { return data + i * ld; }
  Index size() const { return rows * cols; }
  bool empty() const { return data == nullptr; }
  // Rows [r0, r1) as a view.
  Mat rowBlock(Index r0, Index r1) const { return Mat(data + r0 * ld, r1 - r0, cols, ld); }
  // A read-only view of a writable matrix (only declared for non-const T).
  template <typename U = T, typename = std::enable_if_t<!std::is_const_v<U>>>
  operator Mat<const U>() const { return Mat<const U>(data, rows, cols, ld); }
};

template <typename T>
using CMat = Mat<const T>;

}  // namespace bnmf
