// How long a reader spins for the next message before it sleeps, learned from when messages
// actually came. Every descriptor carries the time it was pushed, so the reader knows how soon
// after the start of a wait its message came, whether it spun or slept meanwhile: spinning
// goes on while most messages come within kLimit (a caller calling back to back, a stream)
// and stops when they do not (a caller calling a few hundred times a second), where sleeping
// costs less. When nearly all come that soon, a wait spins up to kLongLimit: the rare longer
// gap (a stream's writer reading an acknowledgement) then costs a little spinning instead of
// a wake-up that would drain the pipeline. No wait spins for a while after a spin was
// preempted: runnable threads then outnumber CPUs (many callers, a busy server), and a
// spinning thread holds a CPU that another one needs.
#pragma once

#include <algorithm>
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
  // A spin that saw its clock jump this far was preempted (its checks come a microsecond or
  // two apart); spinning then stops for the next kQuietWaits waits.
  static constexpr std::chrono::nanoseconds kPreempted = std::chrono::microseconds(50);
  static constexpr uint32_t kQuietWaits = 64;
  static constexpr uint32_t kMaxQuietWaits = 8192;

  // How long the next wait should spin: zero unless most recent messages came within kLimit
  // of their wait; kLongLimit when three in four or more did.
  std::chrono::nanoseconds spin_limit() const {
    if (quiet_ > 0) return std::chrono::nanoseconds::zero();
    if (score_ >= kScale * 3 / 4) return kLongLimit;
    return score_ >= kScale / 2 ? kLimit : std::chrono::nanoseconds::zero();
  }

  // A wait's message was pushed `came_after` the wait began (zero or less: it was already
  // there, which counts as soon).
  void Learn(Clock::duration came_after) {
    const bool soon = came_after <= kLimit;
    // A moving average over the last eight or so waits, in fixed point.
    score_ = score_ - score_ / 8 + (soon ? kScale / 8 : 0);
    if (quiet_ > 0) --quiet_;
  }

  // Spin (below) for a wait of this reader, learning whether it was preempted meanwhile.
  template <class Ready>
  bool SpinOnce(Ready& ready, Clock::time_point until) {
    bool preempted = false;
    const bool got = Spin(ready, until, &preempted);
    if (preempted) {
      // Preempted again soon after the last quiet spell: the CPUs stay crowded, so the next
      // spell is longer (up to kMaxQuietWaits); a spin that runs undisturbed shortens it.
      quiet_ = quiet_spell_;
      quiet_spell_ = std::min(quiet_spell_ * 2, kMaxQuietWaits);
    } else if (quiet_spell_ > kQuietWaits) {
      quiet_spell_ /= 2;
    }
    return got;
  }

  // Spins on `ready` until it returns true (then true) or `until` passes (then false).
  // `preempted` (optional): set when the clock jumped by kPreempted between two looks.
  template <class Ready>
  static bool Spin(Ready& ready, Clock::time_point until, bool* preempted = nullptr) {
    Clock::time_point last = Clock::now();
    for (uint32_t i = 1;; ++i) {
      if (ready()) return true;
      __builtin_ia32_pause();
      if (i % 16 != 0) continue;
      const Clock::time_point now = Clock::now();
      if (preempted != nullptr && now - last > kPreempted) *preempted = true;
      if (now >= until) return ready();
      last = now;
    }
  }

 private:
  static constexpr uint32_t kScale = 1024;
  uint32_t score_ = kScale;  // spin at first: a new connection is usually busy
  uint32_t quiet_ = 0;       // waits left without spinning (see SpinOnce)
  uint32_t quiet_spell_ = kQuietWaits;  // how many the next preempted spin gets
};

}  // namespace ferry::shm
