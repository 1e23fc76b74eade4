// Counting ended calls and reading the counts back.
#include "call/method_stats.h"

#include <algorithm>
#include <bit>

namespace ferry::internal {

void MethodCounters::Record(StatusCode code, std::chrono::nanoseconds took) {
  const auto index = static_cast<size_t>(code);
  by_code_[index < kStatusCodes ? index : static_cast<size_t>(StatusCode::kUnknown)].fetch_add(
      1, std::memory_order_relaxed);
  const auto micros = static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  // Under 2^i us: i is the bit width of the microseconds (0 us: bucket 0).
  const size_t bucket = std::min<size_t>(std::bit_width(micros), kLatencyBuckets - 1);
  latency_[bucket].fetch_add(1, std::memory_order_relaxed);
}

MethodStats MethodCounters::Snapshot(std::string method) const {
  MethodStats stats;
  stats.method = std::move(method);
  for (size_t code = 0; code < kStatusCodes; ++code) {
    const uint64_t n = by_code_[code].load(std::memory_order_relaxed);
    if (n == 0) continue;
    stats.calls += n;
    if (code != 0) stats.errors += n;
    stats.by_status.push_back({static_cast<StatusCode>(code), n});
  }
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    stats.latency.push_back({i + 1 < kLatencyBuckets ? uint64_t{1} << i : UINT64_MAX,
                             latency_[i].load(std::memory_order_relaxed)});
  }
  return stats;
}

}  // namespace ferry::internal
