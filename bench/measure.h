// How many calls a case makes, the loop that makes them, and the process CPU clock.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ferry_bench {

// Payload sizes every transport is measured at.
inline constexpr size_t kPayloadSizes[] = {64, 4 << 10, 1 << 20, 16 << 20};

// Room for the FlatBuffers framing around a payload, so a builder never grows (and copies).
inline constexpr size_t kFramingBytes = 256;

// One case's budget: up to `warmup_calls` unrecorded calls (within `warmup_budget` of wall
// time), then up to `calls` recorded ones (within `budget`). At least one call of each runs.
struct Plan {
  uint64_t warmup_calls;
  uint64_t calls;
  std::chrono::nanoseconds warmup_budget;
  std::chrono::nanoseconds budget;
};

// The plan for `payload`, with iteration counts and time budgets multiplied by `scale`.
inline Plan PlanFor(size_t payload, double scale) {
  using namespace std::chrono_literals;
  uint64_t warmup = 200, calls = 20000;
  if (payload >= (16u << 20)) {
    warmup = 50;
    calls = 200;
  } else if (payload >= (1u << 20)) {
    calls = 2000;
  }
  auto scaled = [scale](uint64_t n) {
    return std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(n) * scale));
  };
  auto scaled_time = [scale](std::chrono::nanoseconds t) {
    return std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(t.count()) * scale));
  };
  return {scaled(warmup), scaled(calls), scaled_time(500ms), scaled_time(3s)};
}

// Runs one_call(i) for i = 0, 1, ... until `max_calls` calls or until `budget` of wall time
// has passed (at least one call). one_call prepares call i untimed, makes it, and returns the
// nanoseconds of its timed part. Returns those times.
template <class OneCall>
std::vector<int64_t> RunCalls(uint64_t max_calls, std::chrono::nanoseconds budget,
                              OneCall&& one_call) {
  using Clock = std::chrono::steady_clock;
  std::vector<int64_t> times;
  times.reserve(static_cast<size_t>(max_calls));
  const Clock::time_point end = Clock::now() + budget;
  for (uint64_t i = 0; i < max_calls; ++i) {
    times.push_back(one_call(i));
    if (Clock::now() >= end) break;
  }
  return times;
}

// The byte call number `n` fills its payload with: consecutive calls differ, so a stale reply
// is caught.
inline uint8_t FillByte(uint64_t n) { return static_cast<uint8_t>(n * 7 + 1); }

// This process's CPU time so far, all its threads (CLOCK_PROCESS_CPUTIME_ID), in ns. A system
// call, safe in a forked child.
inline uint64_t ProcessCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace ferry_bench
