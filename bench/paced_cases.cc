// The paced cases: the schedule of calls, the CPU clocks read around it, and the ferry side
// (Send and ServerCpu to the bench server). raw_futex's side is in raw_baselines.cc.
#include "paced_cases.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <vector>

#include "bench.ferry.h"
#include "bench_support.h"
#include "measure.h"
#include "payload.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint32_t kRatesHz[] = {100, 1000};
constexpr int64_t kWarmupCalls = 20;
constexpr int64_t kLeastSlots = 20;
constexpr double kWindowSeconds = 2.0;  // per rate, times the scale

// Sleeps until `when`. Absolute, so the schedule does not drift by what each call and
// wake-up take; steady_clock is CLOCK_MONOTONIC on Linux.
void SleepUntil(Clock::time_point when) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

struct PacedRun {
  std::vector<int64_t> times_ns;  // each call's timed part
  uint64_t skipped = 0;
  double seconds = 0;
  uint64_t client_cpu_ns = 0;     // this process's, over the window
};

// `slots` slots of `period` from now, one call each (see RunPacedCases).
PacedRun Pace(const std::function<int64_t()>& call, std::chrono::nanoseconds period,
              int64_t slots) {
  PacedRun run;
  run.times_ns.reserve(static_cast<size_t>(slots));
  const uint64_t cpu_before = ProcessCpuNs();
  const Clock::time_point t0 = Clock::now();
  int64_t slot = 0;
  while (slot < slots) {
    SleepUntil(t0 + period * slot);
    run.times_ns.push_back(call());
    // The slot now is in, if the call ran past the next one's start: go at once, once.
    const int64_t now_slot = (Clock::now() - t0) / period;
    const int64_t next = std::max(slot + 1, now_slot);
    run.skipped += static_cast<uint64_t>(std::min(next, slots) - slot - 1);
    slot = next;
  }
  SleepUntil(t0 + period * slots);
  run.client_cpu_ns = ProcessCpuNs() - cpu_before;
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return run;
}

}  // namespace

void RunPacedCases(const std::string& transport, const std::string& placement, double scale,
                   const PacedTarget& target,
                   const std::function<void(const PacedResult&)>& report) {
  for (const uint32_t rate : kRatesHz) {
    const std::chrono::nanoseconds period = std::chrono::nanoseconds(1s) / rate;
    const int64_t slots = std::max<int64_t>(
        kLeastSlots, std::llround(kWindowSeconds * scale * static_cast<double>(rate)));
    Pace(target.call, period, kWarmupCalls);
    const uint64_t server_before = target.server_cpu_ns();
    PacedRun run = Pace(target.call, period, slots);
    const uint64_t server_after = target.server_cpu_ns();

    PacedResult result;
    result.transport = transport;
    result.placement = placement;
    result.payload = kPacedPayload;
    result.rate_hz = rate;
    result.iters = run.times_ns.size();
    result.skipped = run.skipped;
    result.seconds = run.seconds;
    const double calls = static_cast<double>(result.iters);
    result.server_cpu_us_per_call = static_cast<double>(server_after - server_before) / 1e3 / calls;
    result.client_cpu_us_per_call = static_cast<double>(run.client_cpu_ns) / 1e3 / calls;
    // Only its percentiles: the calls per second of a paced case are the rate.
    const CaseResult latency = Summarize(transport, placement, kPacedPayload, run.times_ns, 0);
    result.p50_us = latency.p50_us;
    result.p99_us = latency.p99_us;
    report(result);
  }
}

void RunPacedFerryCases(const ferry::Channel& channel, const std::string& transport,
                        const std::string& placement, double scale,
                        const std::function<void(const PacedResult&)>& report) {
  fb::Bench::Client client(channel);
  uint64_t n = 0;
  PacedTarget target;
  // The request is built before the timed part, as in the round trips.
  target.call = [&client, &n]() -> int64_t {
    const uint8_t byte = FillByte(++n);
    auto request = client.NewSendRequest(kPacedPayload + kFramingBytes);
    FinishPayload(request, kPacedPayload, byte);
    const Clock::time_point t0 = Clock::now();
    auto ack = client.Send(std::move(request));
    const Clock::time_point t1 = Clock::now();
    if (!ack.ok()) throw BenchError("paced Send failed: " + ack.status().ToString());
    if ((*ack)->last() != byte) {
      throw BenchError("paced Send: the server read byte " + std::to_string((*ack)->last()) +
                       ", expected " + std::to_string(byte));
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  };
  target.server_cpu_ns = [&client]() -> uint64_t {
    auto request = client.NewServerCpuRequest(kFramingBytes);
    request.Finish(fb::CreateEmpty(request.fbb()));
    auto cpu = client.ServerCpu(std::move(request));
    if (!cpu.ok()) throw BenchError("ServerCpu failed: " + cpu.status().ToString());
    return (*cpu)->ns();
  };
  RunPacedCases(transport, placement, scale, target, report);
}

}  // namespace ferry_bench
