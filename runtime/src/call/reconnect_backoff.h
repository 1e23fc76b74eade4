// The waits between failed attempts to connect again (ReconnectOptions): from the initial
// backoff, times the multiplier after each failure, up to the maximum; each wait jittered so
// that the clients of one restarted server do not come back in step.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "ferry/options.h"

namespace ferry::internal {

class ReconnectBackoff {
 public:
  // Out-of-range options are brought into range (multiplier >= 1, jitter in 0..1, max >=
  // initial >= 0). `seed` picks the jitter (tests fix it).
  ReconnectBackoff(const ReconnectOptions& options, uint64_t seed);

  // How long to wait after one more failed attempt.
  std::chrono::nanoseconds Next();
  // A connection was made: the next failure waits about the initial backoff again.
  void Reset();

 private:
  double initial_ns_;
  double max_ns_;
  double multiplier_;
  double jitter_;
  double current_ns_;
  std::minstd_rand random_;
};

}  // namespace ferry::internal
