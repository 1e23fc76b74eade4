// The load of the chaos test, run in the test process and in ferry_chaos_client processes:
// threads sharing one channel make Echo calls of mixed sizes (64 B to 16 MiB each way),
// reconnect when their server goes away, and tally every outcome as expected or not.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ferry/ferry.h"
#include "support/sanitizers.h"

namespace ferry::chaos {

using ferry::testing::kSanitized;

// A call or connect running longer than this is hung. Far above any honest call here (the
// slowest, 16 MiB each way over a queue on a loaded machine, takes well under a second), so
// crossing it never depends on luck; sanitizers slow everything down several times.
inline constexpr std::chrono::seconds kHangBound{kSanitized ? 60 : 15};

struct LoadOptions {
  std::string endpoint;
  bool allow_shm = true;
  // UNAVAILABLE (of calls and connects) is expected only where the server may be killed.
  bool server_may_die = false;
  // Share of calls made with a short deadline; for those DEADLINE_EXCEEDED is expected, and
  // RESOURCE_EXHAUSTED too (no slot before the deadline, as ferry documents it).
  double deadline_share = 0.0;
  int threads = 1;
  // Of those, how many make only small calls (64 B to 4 KiB), fast enough that threads
  // contend for the channel all the time rather than wait on large copies.
  int small_threads = 0;
  uint64_t seed = 0;
};

// Outcomes by name ("OK", "UNAVAILABLE", "RESOURCE_EXHAUSTED(unexpected)", ...), with the
// first few examples of each unexpected one. Thread-safe.
class Tally {
 public:
  void Add(const std::string& outcome, bool expected, const std::string& example);
  std::map<std::string, uint64_t> counts() const;
  uint64_t count(const std::string& outcome) const;
  uint64_t unexpected() const;
  std::vector<std::string> examples() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> counts_;
  std::map<std::string, int> examples_per_outcome_;
  std::vector<std::string> examples_;
  uint64_t unexpected_ = 0;
};

// "A=1 B=2" (and back): how counts travel from a client process to the test.
std::string FormatCounts(const std::map<std::string, uint64_t>& counts);
std::map<std::string, uint64_t> ParseCounts(const std::string& text);
void AddCounts(std::map<std::string, uint64_t>& into, const std::map<std::string, uint64_t>& add);

// options.threads threads calling through one shared channel until RequestStop().
class Load {
 public:
  explicit Load(LoadOptions options);
  // Joins the threads; call only once WaitStopped() returned true.
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void RequestStop();
  // True once every thread has returned (after RequestStop()).
  bool WaitStopped(std::chrono::milliseconds timeout);
  // One line per thread whose call or connect has run longer than `bound`.
  std::vector<std::string> Overdue(std::chrono::milliseconds bound) const;

  const Tally& calls() const { return calls_; }
  const Tally& connects() const { return connects_; }
  // The transport the first channel reported ("" before one connected).
  std::string transport() const;

 private:
  // What a thread is doing, for the watchdog.
  struct Activity {
    std::atomic<int> what{0};  // 0 idle, 1 connecting, 2 calling
    std::atomic<int64_t> since_ns{0};
    std::atomic<uint64_t> request_bytes{0};
    std::atomic<uint64_t> reply_bytes{0};
    std::atomic<int64_t> deadline_ms{0};
  };
  struct Current {
    Channel channel;
    uint64_t generation;
  };

  void Run(int index);
  std::optional<Current> CurrentChannel(Activity& activity);
  void DropChannel(uint64_t generation);

  const LoadOptions options_;
  Tally calls_;
  Tally connects_;
  std::unique_ptr<Activity[]> activity_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mutex_;  // guards everything below
  std::optional<Channel> channel_;
  uint64_t generation_ = 0;
  std::string transport_;
  int running_ = 0;
  std::condition_variable stopped_;
  std::vector<std::thread> threads_;
};

}  // namespace ferry::chaos
