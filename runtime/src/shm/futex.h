// Cross-process wait and wake on a 32-bit word in shared memory, and the adaptive spin that
// precedes a wait.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ferry::shm {

// Sleeps while *word == expected, at most `timeout` (which must be positive). Returns on a
// wake, a timeout, a signal or a changed value: callers re-check their condition.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout);

// Wakes up to `count` sleepers on `word`.
void FutexWake(std::atomic<uint32_t>& word, int count);

// The CPU this thread runs on now (a vDSO call, cheap); -1 when unknown.
int CurrentCpu();

// Whether spinning can let the peer make progress: false on a one-CPU machine, or when this
// thread is pinned to the very CPU the peer last ran on (`peer_cpu`, negative when unknown).
bool SpinningCanHelp(int peer_cpu);

// Spins on `ready` for a budget that adapts to how often spinning paid off, and not at all
// when SpinningCanHelp(peer_cpu) says the peer could not run meanwhile.
class AdaptiveSpinner {
 public:
  template <class Ready>
  bool Spin(Ready ready, int peer_cpu) {
    if (!SpinningCanHelp(peer_cpu)) return ready();
    for (uint32_t i = 0; i < budget_; ++i) {
      if (ready()) {
        if (budget_ < kMaxBudget) budget_ *= 2;
        return true;
      }
      __builtin_ia32_pause();
    }
    if (budget_ > kMinBudget) budget_ /= 2;
    return ready();
  }

 private:
  static constexpr uint32_t kMinBudget = 64;
  static constexpr uint32_t kMaxBudget = 1U << 14;
  uint32_t budget_ = 1U << 11;
};

}  // namespace ferry::shm
