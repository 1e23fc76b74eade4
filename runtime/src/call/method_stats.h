// A server's per-method counters: calls ended, by status code, and how long they took from
// the moment the request was read to the moment the reply was sent. Every connection's
// workers update them as calls end (relaxed atomics: a few uncontended increments per call);
// Server::method_stats() reads them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "ferry/server.h"
#include "ferry/status.h"

namespace ferry::internal {

class MethodCounters {
 public:
  // Bucket i counts calls that took under 2^i microseconds (the last one: the rest).
  static constexpr size_t kLatencyBuckets = 32;
  static constexpr size_t kStatusCodes = 17;

  void Record(StatusCode code, std::chrono::nanoseconds took);
  // `method` is the method's full name.
  MethodStats Snapshot(std::string method) const;

 private:
  std::array<std::atomic<uint64_t>, kStatusCodes> by_code_{};
  std::array<std::atomic<uint64_t>, kLatencyBuckets> latency_{};
};

// Method id -> its counters; built before the server listens, read-only afterwards.
using MethodCountersTable = std::unordered_map<uint32_t, std::unique_ptr<MethodCounters>>;

}  // namespace ferry::internal
