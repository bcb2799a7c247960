#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace bnmf::cpu {
namespace {

int cores() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// More threads than this only add OS threads (each with its stack and workspace) and
// contention: the work is cut into blocks that 4 threads per core already balance.
int threadCap() { return 4 * cores(); }

int initialThreads() {
  if (const char* env = std::getenv("BETANMF_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return std::min(n, threadCap());
  }
  return cores();
}

std::atomic<int>& threadSetting() {
  static std::atomic<int> n{initialThreads()};
  return n;
}

// Workers sleep until a call posts work, then take parts from a shared counter with the
// caller. One call at a time uses the pool (concurrent callers — several libuv threads — run
// their parts themselves rather than wait). The pool lives until the process exits.
class Pool {
 public:
  static Pool& instance() {
    static Pool pool(std::max(initialThreads(), threadSetting().load()) - 1);
    return pool;
  }

  bool run(int parts, void (*part)(void*, int), void* context) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty()) return false;
    Job job;
    {
      std::lock_guard<std::mutex> lock(m_);
      job = {++generation_, parts, part, context};
      job_ = job;
      ticket_.store(job.generation << 32);
      done_ = 0;
    }
    wake_.notify_all();
    const int finished = work(job);
    std::unique_lock<std::mutex> lock(m_);
    done_ += finished;
    allDone_.wait(lock, [&] { return done_ == parts; });
    return true;
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  explicit Pool(int threads) {
    for (int i = 0; i < threads; ++i) {
      try {
        workers_.emplace_back([this] { loop(); });
      } catch (...) {
        break;  // fewer workers; the callers do the rest
      }
    }
  }

  struct Job {
    std::uint64_t generation = 0;
    int parts = 0;
    void (*part)(void*, int) = nullptr;
    void* context = nullptr;
  };

  // Runs parts of `job` until none is left; returns how many it ran. The ticket holds the
  // generation (high bits) and the next part (low bits): a worker that wakes late for an
  // older call sees another generation and takes nothing.
  int work(const Job& job) {
    int ran = 0;
    for (;;) {
      std::uint64_t t = ticket_.load();
      do {
        if ((t >> 32) != job.generation || int(t & 0xffffffffu) >= job.parts) return ran;
      } while (!ticket_.compare_exchange_weak(t, t + 1));
      job.part(job.context, int(t & 0xffffffffu));
      ++ran;
    }
  }

  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      const int ran = work(job);
      if (ran == 0) continue;
      std::lock_guard<std::mutex> lock(m_);
      done_ += ran;
      if (done_ == job.parts) allDone_.notify_one();
    }
  }

  std::mutex busy_;  // held by the call using the pool
  std::mutex m_;
  std::condition_variable wake_, allDone_;
  std::vector<std::thread> workers_;
  Job job_;
  std::atomic<std::uint64_t> ticket_{0};
  int done_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace

int maxThreads() { return threadSetting().load(std::memory_order_relaxed); }
void setMaxThreads(int n) {
  threadSetting().store(n > 0 ? std::min(n, threadCap()) : initialThreads(), std::memory_order_relaxed);
}

bool runOnPool(int parts, void (*part)(void*, int), void* context) { return Pool::instance().run(parts, part, context); }

}  // namespace bnmf::cpu
