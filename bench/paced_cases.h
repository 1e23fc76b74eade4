// The paced cases: 64 B unary calls at a fixed rate (100 Hz and 1 kHz) instead of back to
// back, and the CPU time each process spends per call: what a mostly idle connection costs,
// waiting included, which the round trips and calls per second do not show.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "ferry/channel.h"
#include "stats.h"

namespace ferry_bench {

inline constexpr size_t kPacedPayload = 64;

// What a paced case calls, on the client's side.
struct PacedTarget {
  // One round trip of kPacedPayload bytes, checked; returns the nanoseconds of its timed part.
  std::function<int64_t()> call;
  // The server's process CPU time in ns (every thread), read by the server itself; one round
  // trip, outside the paced calls.
  std::function<uint64_t()> server_cpu_ns;
};

// At each rate: 20 paced warm-up calls, then slots at t0 + n / rate for about 2 s (times
// `scale`, at least 20 slots), one call each. A call waits for its slot with an absolute
// sleep; one that is late goes at once, and slots wholly missed are skipped, not made up in a
// burst. The window ends when the last slot's period does. CPU: this process's clock around
// the window, the server's (target.server_cpu_ns) just before and after it; both over the
// calls made. Each result is passed to `report` as soon as its case is done.
void RunPacedCases(const std::string& transport, const std::string& placement, double scale,
                   const PacedTarget& target,
                   const std::function<void(const PacedResult&)>& report);

// The paced cases over `channel` to the bench server: Send calls of 64 B, the server's CPU
// time from ServerCpu.
void RunPacedFerryCases(const ferry::Channel& channel, const std::string& transport,
                        const std::string& placement, double scale,
                        const std::function<void(const PacedResult&)>& report);

}  // namespace ferry_bench
