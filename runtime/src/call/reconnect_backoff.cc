// Exponential backoff with jitter, in the manner of gRPC's connection backoff.
#include "call/reconnect_backoff.h"

#include <algorithm>
#include <cmath>

namespace ferry::internal {
namespace {

// `value` when it is a number in [low, high], else the nearest bound (`low` for NaN).
double Clamped(double value, double low, double high) {
  if (std::isnan(value)) return low;
  return std::clamp(value, low, high);
}

// Waits are capped at about a year, far inside nanoseconds' range once jittered.
constexpr double kLongestWaitNs = 3.2e16;

double Nanoseconds(std::chrono::milliseconds duration) {
  return std::chrono::duration<double, std::nano>(duration).count();
}

}  // namespace

ReconnectBackoff::ReconnectBackoff(const ReconnectOptions& options, uint64_t seed)
    : initial_ns_(Clamped(Nanoseconds(options.initial_backoff), 0.0, kLongestWaitNs)),
      max_ns_(Clamped(Nanoseconds(options.max_backoff), initial_ns_, kLongestWaitNs)),
      multiplier_(Clamped(options.multiplier, 1.0, 1e6)),
      jitter_(Clamped(options.jitter, 0.0, 1.0)),
      current_ns_(initial_ns_),
      random_(static_cast<std::minstd_rand::result_type>(seed % std::minstd_rand::modulus)) {}

std::chrono::nanoseconds ReconnectBackoff::Next() {
  std::uniform_real_distribution<double> spread(1.0 - jitter_, 1.0 + jitter_);
  const double wait = current_ns_ * spread(random_);
  current_ns_ = std::min(max_ns_, current_ns_ * multiplier_);
  return std::chrono::nanoseconds(static_cast<int64_t>(wait));
}

void ReconnectBackoff::Reset() { current_ns_ = initial_ns_; }

}  // namespace ferry::internal
