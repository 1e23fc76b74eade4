// How long a reader spins for the next message before it sleeps, learned from when messages
// actually came. Every descriptor carries the time it was pushed, so the reader knows how soon
// after the start of a wait its message came, whether it spun or slept meanwhile: spinning
// goes on while most messages come within kLimit (a caller calling back to back, a stream)
// and stops when they do not (a caller calling a few hundred times a second), where sleeping
// costs less. When nearly all come that soon, a wait spins up to kLongLimit: the rare longer
// gap (a stream's writer reading an acknowledgement) then costs a little spinning instead of
// a wake-up that would drain the pipeline.
#pragma once

#include <chrono>
#include <cstdint>

namespace ferry::shm {

class LearnedSpinner {
 public:
  using Clock = std::chrono::steady_clock;

  // Spinning longer than this costs more CPU than sleeping and being woken (a futex wait and
  // a wake: a few microseconds on each side on the machines measured, and tens of
  // microseconds of wake-up latency on a VM).
  static constexpr std::chrono::nanoseconds kLimit = std::chrono::microseconds(20);
  static constexpr std::chrono::nanoseconds kLongLimit = std::chrono::microseconds(250);

  // How long the next wait should spin: zero unless most recent messages came within kLimit
  // of their wait; kLongLimit when three in four or more did.
  std::chrono::nanoseconds spin_limit() const {
    if (score_ >= kScale * 3 / 4) return kLongLimit;
    return score_ >= kScale / 2 ? kLimit : std::chrono::nanoseconds::zero();
  }

  // A wait's message was pushed `came_after` the wait began (zero or less: it was already
  // there, which counts as soon).
  void Learn(Clock::duration came_after) {
    const bool soon = came_after <= kLimit;
    // A moving average over the last eight or so waits, in fixed point.
    score_ = score_ - score_ / 8 + (soon ? kScale / 8 : 0);
  }

  // Spins on `ready` until it returns true (then true) or `until` passes (then false).
  template <class Ready>
  static bool Spin(Ready& ready, Clock::time_point until) {
    for (uint32_t i = 1;; ++i) {
      if (ready()) return true;
      __builtin_ia32_pause();
      if (i % 16 == 0 && Clock::now() >= until) return ready();
    }
  }

 private:
  static constexpr uint32_t kScale = 1024;
  uint32_t score_ = kScale;  // spin at first: a new connection is usually busy
};

}  // namespace ferry::shm
