#include "raw_baselines.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "measure.h"
#include "bench_support.h"
#include "paced_cases.h"

namespace ferry_bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// --- A tiny futex wrapper: shared (not PRIVATE) operations, the words live in a mapping two
// processes share.

void FutexWait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// --- The shared mapping: control words on their own cache lines, then the payload area.

constexpr uint32_t kStop = UINT32_MAX;  // a request sequence that ends the peer
constexpr uint32_t kPeerStarting = 0, kPeerPinned = 1, kPeerPinFailed = 2;
// What a request asks the peer for: the payload's last byte, or its own CPU time (paced).
constexpr uint32_t kOpRoundTrip = 0, kOpCpuTime = 1;
constexpr size_t kControlBytes = 4096;
constexpr size_t kMaxPayload = 16u << 20;

struct Control {
  // Client -> peer: the sequence number of the latest request (kStop: exit).
  alignas(64) std::atomic<uint32_t> request{0};
  uint64_t payload_size = 0;  // written before `request` is published
  uint32_t op = kOpRoundTrip;  // likewise
  // Peer -> client: the sequence number of the latest reply.
  alignas(64) std::atomic<uint32_t> reply{0};
  uint8_t last_byte = 0;  // the payload's last byte as the peer read it; before `reply`
  uint64_t peer_cpu_ns = 0;  // kOpCpuTime: the peer's ProcessCpuNs(); before `reply`
  // Peer -> client, once: whether the peer pinned itself.
  alignas(64) std::atomic<uint32_t> peer_state{kPeerStarting};
};
static_assert(sizeof(Control) <= kControlBytes);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

class SharedMapping {
 public:
  SharedMapping() {
    base_ = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) {
      throw BenchError(std::string("mmap of the shared payload area: ") + std::strerror(errno));
    }
    control_ = new (base_) Control();
  }
  ~SharedMapping() { munmap(base_, kSize); }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;

  Control& control() { return *control_; }
  uint8_t* payload() { return static_cast<uint8_t*>(base_) + kControlBytes; }

 private:
  static constexpr size_t kSize = kControlBytes + kMaxPayload;
  void* base_;
  Control* control_;
};

// Waits until `word` differs from `seen`, spinning or sleeping on the futex; returns its new
// value. Gives up (returns `seen`) past `deadline`, checked every few thousand spins.
uint32_t AwaitChange(std::atomic<uint32_t>& word, uint32_t seen, RawKind kind,
                     Clock::time_point deadline) {
  for (uint32_t spins = 0;; ++spins) {
    const uint32_t now = word.load(std::memory_order_acquire);
    if (now != seen) return now;
    if (kind == RawKind::kFutex) {
      FutexWait(word, seen, 100ms);
      if (Clock::now() >= deadline) return word.load(std::memory_order_acquire);
    } else {
      __builtin_ia32_pause();
      if ((spins & 4095) == 4095 && Clock::now() >= deadline) return seen;
    }
  }
}

// The peer, in the forked child: answers each request with the payload's last byte.
int PeerLoop(Control& control, const uint8_t* payload, RawKind kind, int cpu) {
  if (!TryPinToCpu(cpu)) {
    control.peer_state.store(kPeerPinFailed, std::memory_order_release);
    FutexWake(control.peer_state);
    return 3;
  }
  control.peer_state.store(kPeerPinned, std::memory_order_release);
  FutexWake(control.peer_state);
  uint32_t seen = 0;
  for (;;) {
    // No deadline: the parent ends this process with kStop, or kills it.
    const uint32_t request = AwaitChange(control.request, seen, kind, Clock::time_point::max());
    seen = request;
    if (request == kStop) return 0;
    if (control.op == kOpCpuTime) {
      control.peer_cpu_ns = ProcessCpuNs();
    } else {
      const uint64_t size = control.payload_size;
      control.last_byte =
          size == 0 ? 0 : *static_cast<const volatile uint8_t*>(payload + size - 1);
    }
    control.reply.store(request, std::memory_order_release);
    if (kind == RawKind::kFutex) FutexWake(control.reply);
  }
}

// raw_spin on one CPU: a hand-over waits for the spinner's time slice to end, so every call
// costs milliseconds; bound the case by a small count and time budget.
Plan BoundedFor(RawKind kind, bool same_cpu, size_t payload, double scale) {
  Plan plan = PlanFor(payload, scale);
  if (kind == RawKind::kSpin && same_cpu) {
    plan.warmup_calls = std::min<uint64_t>(plan.warmup_calls, 20);
    plan.calls = std::min<uint64_t>(plan.calls, std::max<uint64_t>(1, uint64_t(2000 * scale)));
    plan.warmup_budget = std::min<std::chrono::nanoseconds>(plan.warmup_budget, 200ms);
    plan.budget = std::min<std::chrono::nanoseconds>(
        plan.budget, std::chrono::nanoseconds(static_cast<int64_t>(2e9 * scale)));
  }
  return plan;
}

std::string Name(RawKind kind) { return RawTransportName(kind); }

// Forks the peer over `mapping` and waits until it has pinned itself to `cpu`.
ChildProcess StartPeer(SharedMapping& mapping, RawKind kind, int cpu) {
  Control& control = mapping.control();
  const uint8_t* const payload = mapping.payload();
  ChildProcess peer = ChildProcess::Fork([&control, payload, kind, cpu] {
    return PeerLoop(control, payload, kind, cpu);
  });
  const Clock::time_point started = Clock::now() + 10s;
  while (control.peer_state.load(std::memory_order_acquire) == kPeerStarting &&
         Clock::now() < started) {
    FutexWait(control.peer_state, kPeerStarting, 10ms);
  }
  if (control.peer_state.load(std::memory_order_acquire) != kPeerPinned) {
    throw BenchError(Name(kind) + " peer could not pin itself to CPU " + std::to_string(cpu));
  }
  return peer;
}

void StopPeer(Control& control, RawKind kind, ChildProcess& peer) {
  control.request.store(kStop, std::memory_order_release);
  FutexWake(control.request);
  const std::optional<int> status = peer.Wait(10s);
  if (!status) throw BenchError(Name(kind) + " peer did not stop");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw BenchError(Name(kind) + " peer " + DescribeWaitStatus(*status));
  }
}

// Publishes request `sequence` (its op and payload already written) and waits for the
// peer's reply until `deadline`.
void Exchange(Control& control, RawKind kind, uint32_t sequence, Clock::time_point deadline) {
  control.request.store(sequence, std::memory_order_release);
  if (kind == RawKind::kFutex) FutexWake(control.request);
  const uint32_t answered = AwaitChange(control.reply, sequence - 1, kind, deadline);
  if (answered != sequence) {
    throw BenchError(Name(kind) + " peer did not answer call " + std::to_string(sequence) +
                     " within 10 s");
  }
}

// Round trip `sequence` with `size` bytes, written before the timed part (as the producer
// writes its payload in place); returns the nanoseconds of the timed part.
int64_t RoundTrip(SharedMapping& mapping, RawKind kind, uint32_t sequence, size_t size) {
  Control& control = mapping.control();
  const uint8_t byte = FillByte(sequence);
  std::memset(mapping.payload(), byte, size);
  control.payload_size = size;
  control.op = kOpRoundTrip;
  const Clock::time_point t0 = Clock::now();
  Exchange(control, kind, sequence, t0 + 10s);
  const Clock::time_point t1 = Clock::now();
  if (control.last_byte != byte) {
    throw BenchError(Name(kind) + " peer read byte " + std::to_string(control.last_byte) +
                     ", expected " + std::to_string(byte));
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
}

// The peer's CPU time, read by the peer itself (request `sequence`).
uint64_t PeerCpuNs(Control& control, RawKind kind, uint32_t sequence) {
  control.op = kOpCpuTime;
  Exchange(control, kind, sequence, Clock::now() + 10s);
  return control.peer_cpu_ns;
}

}  // namespace

const char* RawTransportName(RawKind kind) {
  return kind == RawKind::kSpin ? "raw_spin" : "raw_futex";
}

void RunRawCases(RawKind kind, const std::string& placement, bool same_cpu, int peer_cpu,
                 double scale, const std::function<void(const CaseResult&)>& report) {
  SharedMapping mapping;
  ChildProcess peer = StartPeer(mapping, kind, peer_cpu);
  uint32_t sequence = 0;
  for (const size_t size : kPayloadSizes) {
    auto one_call = [&](uint64_t) { return RoundTrip(mapping, kind, ++sequence, size); };
    const Plan plan = BoundedFor(kind, same_cpu, size, scale);
    RunCalls(plan.warmup_calls, plan.warmup_budget, one_call);
    std::vector<int64_t> times = RunCalls(plan.calls, plan.budget, one_call);
    // The baselines copy nothing: the payload is written in place and read in place.
    report(Summarize(RawTransportName(kind), placement, size, times, 0));
  }
  StopPeer(mapping.control(), kind, peer);
}

void RunRawPacedCases(const std::string& placement, int peer_cpu, double scale,
                      const std::function<void(const PacedResult&)>& report) {
  constexpr RawKind kind = RawKind::kFutex;
  SharedMapping mapping;
  ChildProcess peer = StartPeer(mapping, kind, peer_cpu);
  uint32_t sequence = 0;
  PacedTarget target;
  target.call = [&mapping, &sequence] {
    return RoundTrip(mapping, kind, ++sequence, kPacedPayload);
  };
  target.server_cpu_ns = [&mapping, &sequence] {
    return PeerCpuNs(mapping.control(), kind, ++sequence);
  };
  RunPacedCases(RawTransportName(kind), placement, scale, target, report);
  StopPeer(mapping.control(), kind, peer);
}

}  // namespace ferry_bench
