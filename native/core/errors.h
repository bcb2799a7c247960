// Errors raised by the core. The binding turns each into a JS exception of the matching class;
// nothing in the core aborts the process.
#pragma once
#include <stdexcept>
#include <string>

namespace bnmf {

// A bad shape or value that validation should have caught (→ RangeError).
struct RangeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Memory, threads or a device could not be had (→ Error).
struct ResourceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bnmf
