// Many threads on one shared-memory channel, squeezed onto one CPU or spread over two while
// the machine is loaded: no call may fail because of contention (the request ring, slots and
// call cells are bounds, not reasons to fail), small messages or large.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/ferry.h"
#include "support/process.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

namespace ft = ferry::test;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HelperPath;

// Pins this thread (and the threads and processes it starts) to the first `cpus` allowed
// CPUs while it lives, then restores the affinity it found.
class ScopedCpus {
 public:
  explicit ScopedCpus(size_t cpus) {
    sched_getaffinity(0, sizeof(saved_), &saved_);
    const std::vector<int> allowed = testing::AllowedCpus();
    count_ = std::min(cpus, allowed.size());
    cpu_set_t set;
    CPU_ZERO(&set);
    for (size_t i = 0; i < count_; ++i) CPU_SET(allowed[i], &set);
    sched_setaffinity(0, sizeof(set), &set);
  }
  ~ScopedCpus() { sched_setaffinity(0, sizeof(saved_), &saved_); }
  size_t count() const { return count_; }

 private:
  cpu_set_t saved_;
  size_t count_ = 0;
};

// One busy thread per CPU for the life of the object: the "loaded machine" under which a
// consumer is preempted at the worst moment.
class CpuLoad {
 public:
  explicit CpuLoad(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
      // Short sleeps: each wake-up may preempt whatever runs on that CPU.
      threads_.emplace_back([this] {
        while (!stop_.load(std::memory_order_relaxed)) std::this_thread::sleep_for(20us);
      });
    }
  }
  ~CpuLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Counts failed calls by status text, so a failure names its cause.
class Failures {
 public:
  void Add(const Status& status) {
    std::lock_guard lock(mutex_);
    ++by_text_[status.ToString()];
    ++total_;
  }
  size_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  std::string Describe() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [text, count] : by_text_) out += std::to_string(count) + " x " + text + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, size_t> by_text_;
  size_t total_ = 0;
};

class Contention : public ::testing::Test {
 protected:
  void StartServer(const std::string& listen, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv{HelperPath("ferry_test_server")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(listen);
    server_ = std::make_unique<ChildProcess>(ChildProcess::Exec(argv));
    std::optional<std::string> line = server_->ReadLine(10s);
    ASSERT_TRUE(line && line->rfind("ready ", 0) == 0) << "server did not start";
    endpoint_ = line->substr(6);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Signal(SIGTERM);
      std::optional<int> status = server_->Wait(20s);
      ASSERT_TRUE(status.has_value()) << "server did not exit on SIGTERM";
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << status.value_or(-1);
    }
    EXPECT_TRUE(testing::FilesIn(runtime_dir_.path()).empty());
  }

  // `threads` callers share one channel, each making `calls` calls of `call(client, i)`.
  template <class Call>
  void Hammer(size_t threads, size_t calls, Call call, const ConnectOptions& options = {}) {
    Result<Channel> channel = Connect(endpoint_, options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ASSERT_EQ(channel->transport(), "shm");
    ft::TestService::Client client(*channel);
    std::vector<std::thread> callers;
    for (size_t t = 0; t < threads; ++t) {
      callers.emplace_back([&, t] {
        for (size_t i = 0; i < calls; ++i) {
          if (Status s = call(client, t * calls + i); !s.ok()) failures_.Add(s);
        }
      });
    }
    for (auto& caller : callers) caller.join();
  }

  testing::ScopedRuntimeDir runtime_dir_;
  std::unique_ptr<ChildProcess> server_;
  std::string endpoint_;
  Failures failures_;
};

Status AddAndCheck(ft::TestService::Client& client, size_t i) {
  const int a = static_cast<int>(i % 100000);
  auto sum = client.Add(a, 7);
  if (!sum.ok()) return sum.status();
  if ((*sum)->sum() != a + 7) return Status::DataLoss("wrong sum");
  return Status::Ok();
}

struct Squeeze {
  size_t cpus;
  size_t threads;
};

class SmallCalls : public Contention, public ::testing::WithParamInterface<Squeeze> {};

TEST_P(SmallCalls, ThreadsSharingOneShmChannelNeverFailUnderContention) {
  ScopedCpus cpus(GetParam().cpus);
  if (cpus.count() < GetParam().cpus) GTEST_SKIP() << "needs " << GetParam().cpus << " CPUs";
  StartServer("shm://contention");
  CpuLoad load(cpus.count());
  // A fixed amount of work, not a fixed time: bounded and comparable across machines.
  const size_t calls = std::max<size_t>(200, 24000 / GetParam().threads);
  Hammer(GetParam().threads, calls, AddAndCheck);
  EXPECT_EQ(failures_.total(), 0U) << failures_.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Squeezed, SmallCalls,
    ::testing::Values(Squeeze{1, 4}, Squeeze{1, 16}, Squeeze{1, 64}, Squeeze{2, 4},
                      Squeeze{2, 16}, Squeeze{2, 64}),
    [](const ::testing::TestParamInfo<Squeeze>& info) {
      return std::to_string(info.param.cpus) + "Cpu" + std::to_string(info.param.threads) +
             "Threads";
    });

class BusyPoll : public Contention, public ::testing::WithParamInterface<Squeeze> {};

TEST_P(BusyPoll, BothSidesPollingServeEveryCallAndAnIdleGapBetweenThem) {
  ScopedCpus cpus(GetParam().cpus);
  if (cpus.count() < GetParam().cpus) GTEST_SKIP() << "needs " << GetParam().cpus << " CPUs";
  StartServer("shm://busy-poll", {"--busy-poll"});
  ConnectOptions options;
  options.busy_poll = true;
  // Bursts with gaps: a poller must find the next call after waiting through a gap, and on
  // one CPU (where polling cannot help) it must sleep instead, or the caller would starve.
  Hammer(
      GetParam().threads, 300,
      [](ft::TestService::Client& client, size_t i) {
        if (i % 100 == 99) std::this_thread::sleep_for(2ms);  // the gap under test
        return AddAndCheck(client, i);
      },
      options);
  EXPECT_EQ(failures_.total(), 0U) << failures_.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Cpus, BusyPoll, ::testing::Values(Squeeze{1, 4}, Squeeze{2, 4}),
    [](const ::testing::TestParamInfo<Squeeze>& info) {
      return std::to_string(info.param.cpus) + "Cpu" + std::to_string(info.param.threads) +
             "Threads";
    });

TEST_F(Contention, ATcpChannelMovedToShmNeverFailsUnderContention) {
  ScopedCpus cpus(2);
  StartServer("tcp://127.0.0.1:0");
  CpuLoad load(cpus.count());
  Hammer(16, 1500, AddAndCheck);
  EXPECT_EQ(failures_.total(), 0U) << failures_.Describe();
}

// Requests of `size` bytes answered by replies of the same size (Echo), each checked.
Status EchoAndCheck(ft::TestService::Client& client, size_t i, size_t size) {
  // The size hint a user would give: the payload, not FlatBuffers' own overhead.
  auto request = client.NewEchoRequest(size);
  uint8_t* bytes = nullptr;
  auto data = request.fbb().CreateUninitializedVector(size, &bytes);
  const auto fill = static_cast<uint8_t>(i * 31 + 1);
  std::fill(bytes, bytes + size, fill);
  request.Finish(ft::CreateBlob(request.fbb(), i, data));
  auto reply = client.Echo(std::move(request));
  if (!reply.ok()) return reply.status();
  const auto* echoed = (*reply)->data();
  if ((*reply)->seq() != i || echoed == nullptr || echoed->size() != size ||
      echoed->Get(0) != fill || echoed->Get(static_cast<flatbuffers::uoffset_t>(size - 1)) != fill) {
    return Status::DataLoss("echo came back wrong");
  }
  return Status::Ok();
}

struct LargeCase {
  size_t bytes;
  size_t threads;
  size_t calls_per_thread;
};

class LargeCalls : public Contention, public ::testing::WithParamInterface<LargeCase> {};

TEST_P(LargeCalls, ThreadsSendingLargeRequestsWithSameSizeRepliesAllSucceed) {
  StartServer("shm://large");
  const LargeCase c = GetParam();
  Hammer(c.threads, c.calls_per_thread, [&](ft::TestService::Client& client, size_t i) {
    return EchoAndCheck(client, i, c.bytes);
  });
  EXPECT_EQ(failures_.total(), 0U) << failures_.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, LargeCalls,
    ::testing::Values(LargeCase{1 << 20, 2, 40}, LargeCase{1 << 20, 8, 15},
                      LargeCase{16 << 20, 2, 4}, LargeCase{16 << 20, 8, 2}),
    [](const ::testing::TestParamInfo<LargeCase>& info) {
      return std::to_string(info.param.bytes >> 20) + "MiB" + std::to_string(info.param.threads) +
             "Threads";
    });

}  // namespace
}  // namespace ferry
