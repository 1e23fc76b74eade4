// Turning durations from options into deadlines without overflow.
#pragma once

#include <chrono>

namespace ferry::internal {

using Clock = std::chrono::steady_clock;

// now + `after`, saturating: a duration <= 0 is already expired (now), one too large to add is
// "never" (time_point::max()).
// Compared in the caller's own unit, so that milliseconds::max() never overflows on the way.
template <class Rep, class Period>
Clock::time_point DeadlineAfter(std::chrono::duration<Rep, Period> after) {
  using Duration = std::chrono::duration<Rep, Period>;
  const Clock::time_point now = Clock::now();
  if (after <= Duration::zero()) return now;
  if (after >= std::chrono::duration_cast<Duration>(Clock::time_point::max() - now)) {
    return Clock::time_point::max();
  }
  return now + std::chrono::duration_cast<Clock::duration>(after);
}

// A call's deadline from its options: zero means none (time_point::max()), a negative one has
// already passed.
inline Clock::time_point DeadlineFrom(std::chrono::nanoseconds deadline) {
  return deadline == std::chrono::nanoseconds::zero() ? Clock::time_point::max()
                                                      : DeadlineAfter(deadline);
}

}  // namespace ferry::internal
