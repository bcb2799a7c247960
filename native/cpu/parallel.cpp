#include "cpu/parallel.h"

#include <atomic>
#include <cstdlib>

namespace bnmf::cpu {
namespace {

int initialThreads() {
  if (const char* env = std::getenv("BETANMF_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

std::atomic<int>& threadSetting() {
  static std::atomic<int> n{initialThreads()};
  return n;
}

}  // namespace

int maxThreads() { return threadSetting().load(std::memory_order_relaxed); }
void setMaxThreads(int n) { threadSetting().store(n > 0 ? n : initialThreads(), std::memory_order_relaxed); }

}  // namespace bnmf::cpu
