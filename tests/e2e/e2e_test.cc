// End-to-end: a real ferry_test_server process, clients in this process and in
// ferry_test_client processes, over every transport: each test runs once per transport.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ferry/ferry.h"
#include "support/eventually.h"
#include "support/process.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

namespace ft = ferry::test;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::Eventually;
using testing::HelperPath;

constexpr auto kStartTimeout = 10s;

// A transport under test: the endpoint the server listens on, and whether clients may move
// to shared memory (off, so that unix:// and tcp:// calls really travel on the socket).
struct Transport {
  std::string name;
  std::string listen;  // "{dir}" stands for the test's runtime dir
  bool allow_shm;
  // How soon a client notices a killed server: at once where the kernel closes a socket
  // (shm's liveness socket, unix, tcp); by heartbeat on mq (the bound: 1 s).
  std::chrono::milliseconds death_noticed_within;
  // What Channel::transport() says once connected ("shm" for a tcp:// channel that moved).
  std::string carried_by;
};

// Should an assertion end a test while a call runs in a std::async future, the future's
// destructor waits for the call: declared after the future (so destroyed before it), this
// kills the server unless the test called Done() once its calls had ended.
struct KillServerOnEarlyExit {
  std::unique_ptr<ChildProcess>& server;
  bool done = false;
  void Done() { done = true; }
  ~KillServerOnEarlyExit() {
    if (!done && server != nullptr) server->Signal(SIGKILL);
  }
};

void PrintTo(const Transport& transport, std::ostream* out) { *out << transport.name; }

std::string TransportName(const ::testing::TestParamInfo<Transport>& info) {
  return info.param.name;
}

class EndToEnd : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    runtime_dir_ = std::make_unique<testing::ScopedRuntimeDir>();
    listen_ = GetParam().listen;
    if (size_t at = listen_.find("{dir}"); at != std::string::npos) {
      listen_.replace(at, 5, runtime_dir_->path());
    }
    endpoint_ = listen_;
    server_ = StartServer();
    ASSERT_NE(server_, nullptr);
  }

  bool shm() const { return GetParam().carried_by == "shm"; }

  // ferry_test_client's arguments for this transport.
  std::vector<std::string> ClientArgs(std::vector<std::string> args) const {
    if (!GetParam().allow_shm) args.insert(args.begin(), "--no-shm");
    args.insert(args.begin(), HelperPath("ferry_test_client"));
    return args;
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Signal(SIGTERM);
      std::optional<int> status = server_->Wait(10s);
      ASSERT_TRUE(status.has_value()) << "server did not exit on SIGTERM";
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
    }
    EXPECT_TRUE(testing::FerryFilesInDevShm(server_pids_).empty());
    EXPECT_TRUE(testing::FilesIn(runtime_dir_->path()).empty())
        << "left in the runtime dir: " << testing::FilesIn(runtime_dir_->path())[0];
    runtime_dir_.reset();
  }

  // Starts the server on listen_ and points endpoint_ at where it listens.
  // Replaces the server with one started with `flags` (call through
  // ASSERT_NO_FATAL_FAILURE).
  void RestartServer(std::vector<std::string> flags) {
    server_->Signal(SIGTERM);
    ASSERT_TRUE(server_->Wait(10s).has_value()) << "server did not exit on SIGTERM";
    server_ = StartServer(std::move(flags));
    ASSERT_NE(server_, nullptr);
  }

  std::unique_ptr<ChildProcess> StartServer(std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), HelperPath("ferry_test_server"));
    flags.push_back(listen_);
    auto server = std::make_unique<ChildProcess>(ChildProcess::Exec(flags));
    std::optional<std::string> line = server->ReadLine(kStartTimeout);
    if (!line || line->rfind("ready ", 0) != 0) {
      ADD_FAILURE() << "server did not start";
      return nullptr;
    }
    endpoint_ = line->substr(6);
    server_pids_.push_back(server->pid());
    return server;
  }

  Channel Connected() {
    ConnectOptions options;
    options.allow_shm = GetParam().allow_shm;
    Result<Channel> channel = Connect(endpoint_, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  // Starts a Block call, which holds its handler until the call is cancelled.
  static AsyncReply<ft::Empty> BlockAsync(ft::TestService::Client& client) {
    auto request = client.NewBlockRequest();
    request.Finish(ft::CreateEmpty(request.fbb()));
    return client.BlockAsync(std::move(request));
  }

  // Polls the server's stats until `done` holds (bounded): for effects that arrive
  // asynchronously, such as a oneway call or a connection's teardown.
  template <class Done>
  bool EventuallyStats(ft::TestService::Client& client, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto stats = client.GetStats();
      if (stats.ok() && done(**stats)) return true;
      std::this_thread::yield();
    }
    return false;
  }

  std::unique_ptr<testing::ScopedRuntimeDir> runtime_dir_;
  std::string listen_;
  std::string endpoint_;
  std::vector<int> server_pids_;  // every server this test started
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(EndToEnd, UnaryCallWithFieldsAsArgumentsReturnsTheSum) {
  Channel channel = Connected();
  EXPECT_EQ(channel.transport(), GetParam().carried_by);
  ft::TestService::Client client(channel);
  auto sum = client.Add(2, 3);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 5);
}

TEST_P(EndToEnd, AHandlerKnowsWhoCalled) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto caller = client.WhoCalled();
  ASSERT_TRUE(caller.ok()) << caller.status();
  if (GetParam().name == "tcp") {  // an address, no process
    EXPECT_EQ((*caller)->pid(), -1);
    ASSERT_NE((*caller)->address(), nullptr);
    EXPECT_EQ((*caller)->address()->str().rfind("127.0.0.1:", 0), 0U)
        << (*caller)->address()->str();
  } else {  // a local socket: the kernel's word for this process
    EXPECT_EQ((*caller)->pid(), getpid());
    EXPECT_EQ((*caller)->uid(), static_cast<int64_t>(getuid()));
    EXPECT_EQ((*caller)->gid(), static_cast<int64_t>(getgid()));
  }
}

TEST_P(EndToEnd, UnaryCallWithAnInPlaceBuilderReturnsTheSum) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // The first call of a method also carries its schema check: count from the second.
  ASSERT_TRUE(client.Add(1, 1).ok());
  const uint64_t copied_before = channel.bytes_copied();
  auto request = client.NewAddRequest(64);
  request.Finish(ft::CreateAddRequest(request.fbb(), -40, 2));
  const size_t request_size = request.fbb().GetSize();
  auto sum = client.Add(std::move(request), {.deadline = 5s});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), -38);
  // Shared memory copies nothing; a socket or queue copies each frame (message and a small
  // header) at least once each way.
  const uint64_t copied = channel.bytes_copied() - copied_before;
  if (shm()) {
    EXPECT_EQ(channel.bytes_copied(), 0U);
  } else {
    EXPECT_GE(copied, request_size + sum->size());
    EXPECT_LT(copied, 3 * (request_size + sum->size()) + 512);
  }
}

TEST_P(EndToEnd, ManyThreadsShareOneChannel) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto sum = client.Add(t * 1000, i);
        if (!sum.ok() || (*sum)->sum() != t * 1000 + i) wrong.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(EndToEnd, SeveralClientProcessesCallConcurrently) {
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<ChildProcess>(
        ChildProcess::Exec(ClientArgs({endpoint_, "add", "2000"}))));
  }
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  for (int i = 0; i < 2000; ++i) {
    auto sum = client.Add(i, i);
    ASSERT_TRUE(sum.ok()) << sum.status();
    ASSERT_EQ((*sum)->sum(), 2 * i);
  }
  for (auto& child : clients) {
    std::optional<int> status = child->Wait(60s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    EXPECT_TRUE(testing::FerryFilesInDevShm(server_pids_).empty());
  }
}

TEST_P(EndToEnd, SixteenMiBRequestIsReadInPlaceWithoutCopies) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  constexpr size_t kSize = 16 << 20;
  auto request = client.NewSummarizeRequest(kSize + 1024);
  uint8_t* bytes = nullptr;
  auto data = request.fbb().CreateUninitializedVector(kSize, &bytes);
  uint64_t sum = 0;
  for (size_t i = 0; i < kSize; ++i) {
    bytes[i] = static_cast<uint8_t>(i * 7);
    sum += bytes[i];
  }
  request.Finish(ft::CreateBlob(request.fbb(), 1, data));
  auto digest = client.Summarize(std::move(request));
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ((*digest)->size(), kSize);
  EXPECT_EQ((*digest)->first(), 0);
  EXPECT_EQ((*digest)->last(), static_cast<uint8_t>((kSize - 1) * 7));
  EXPECT_EQ((*digest)->sum(), sum);
  if (shm()) {
    EXPECT_EQ(channel.bytes_copied(), 0U);
  } else {  // through the kernel once (a queue: staged, then pushed); the reply is small
    EXPECT_GE(channel.bytes_copied(), kSize);
    EXPECT_LT(channel.bytes_copied(), 2 * kSize + 256 * 1024);
  }
}

TEST_P(EndToEnd, SixteenMiBReplyArrivesIntact) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto blob = client.Generate(16 << 20, 0xab);
  ASSERT_TRUE(blob.ok()) << blob.status();
  const auto* data = (*blob)->data();
  ASSERT_NE(data, nullptr);
  ASSERT_EQ(data->size(), 16U << 20);
  EXPECT_EQ(data->Get(0), 0xab);
  EXPECT_EQ(data->Get(data->size() - 1), 0xab);
}

TEST_P(EndToEnd, RequestLargerThanTheLargestMessageFailsWithResourceExhausted) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewSummarizeRequest();
  uint8_t* bytes = nullptr;
  auto data = request.fbb().CreateUninitializedVector(40 << 20, &bytes);
  std::memset(bytes, 1, 40 << 20);
  request.Finish(ft::CreateBlob(request.fbb(), 1, data));
  auto digest = client.Summarize(std::move(request));
  EXPECT_EQ(digest.status().code(), StatusCode::kResourceExhausted) << digest.status();
  auto sum = client.Add(1, 1);  // the channel is still fine
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 2);
}

TEST_P(EndToEnd, CorruptedRequestIsRejectedAndTheServerKeepsServing) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewAddRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 1, 2));
  std::memset(request.fbb().GetBufferPointer(), 0xff, 4);  // root offset far outside
  auto sum = client.Add(std::move(request));
  EXPECT_EQ(sum.status().code(), StatusCode::kInvalidArgument) << sum.status();
  auto again = client.Add(20, 22);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->sum(), 42);
}

TEST_P(EndToEnd, CorruptedReplyFailsWithDataLoss) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto reply = client.CorruptReply();
  EXPECT_EQ(reply.status().code(), StatusCode::kDataLoss) << reply.status();
}

TEST_P(EndToEnd, HandlerExceptionBecomesInternalWithItsText) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto thrown = client.Throw("disk on fire");
  EXPECT_EQ(thrown.status().code(), StatusCode::kInternal);
  EXPECT_NE(thrown.status().message().find("disk on fire"), std::string::npos)
      << thrown.status();
  EXPECT_TRUE(client.Add(1, 2).ok());
}

TEST_P(EndToEnd, HandlerStatusReachesTheCaller) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto failed = client.Fail("not today");
  EXPECT_EQ(failed.status(), Status::FailedPrecondition("not today"));
}

TEST_P(EndToEnd, HandlerReturningOkWithoutAReplyIsInternal) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  EXPECT_EQ(client.ForgetReply().status().code(), StatusCode::kInternal);
}

TEST_P(EndToEnd, MethodTheServerDoesNotServeIsUnimplemented) {
  Channel channel = Connected();
  ft::Unserved::Client client(channel);
  EXPECT_EQ(client.Ping().status().code(), StatusCode::kUnimplemented);
}

TEST_P(EndToEnd, OnewayCallsReachTheHandler) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Note("hello").ok());
  EXPECT_TRUE(EventuallyStats(client, [](const ft::Stats& s) { return s.notes() == 10; }));
}

TEST_P(EndToEnd, DeadlineExceededCancelsTheHandlerAndTheChannelStaysUsable) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  const auto start = std::chrono::steady_clock::now();
  auto blocked = client.Block({.deadline = 50ms});
  EXPECT_EQ(blocked.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");  // ctx.Cancelled() turned true
  auto sum = client.Add(4, 5);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 9);
}

TEST_P(EndToEnd, ASlowHandlerDoesNotHoldUpOtherCallsOnTheSameChannel) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto blocked = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 2s}).status();
  });
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  for (int i = 0; i < 100; ++i) {  // served while Block still runs
    auto sum = client.Add(i, i);
    ASSERT_TRUE(sum.ok()) << sum.status();
    ASSERT_EQ((*sum)->sum(), 2 * i);
  }
  EXPECT_EQ(blocked.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(blocked.get().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
}

TEST_P(EndToEnd, ASlowHandlerLaterInAConnectionsLifeDoesNotHoldUpOtherCalls) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // Fast calls for a while first: the servers' standby alarm goes off with no slow handler.
  for (auto until = std::chrono::steady_clock::now() + 20ms;
       std::chrono::steady_clock::now() < until;) {
    ASSERT_TRUE(client.Add(1, 2).ok());
  }
  auto blocked = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 2s}).status();
  });
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  auto sum = client.Add(2, 2, {.deadline = 1s});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 4);
  EXPECT_EQ(blocked.get().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
}

TEST_P(EndToEnd, DeadlinesEndHandlersEvenWhenEveryWorkerIsBusy) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // Two workers per connection: both in Block, so nobody reads a Cancel frame.
  auto first = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 200ms}).status();
  });
  auto second = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 200ms}).status();
  });
  EXPECT_EQ(first.get().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(second.get().code(), StatusCode::kDeadlineExceeded);
  for (int i = 0; i < 4; ++i) {  // "blocked" twice and "unblocked" twice, in any order
    const std::optional<std::string> line = server_->ReadLine(kStartTimeout);
    ASSERT_TRUE(line == "blocked" || line == "unblocked") << line.value_or("(nothing)");
  }
  auto sum = client.Add(3, 4, {.deadline = 5s});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 7);
}

TEST_P(EndToEnd, ALargeRequestToABusyServerEndsAtItsDeadline) {
  // Two threads for handlers, whichever serve this transport: the two blocked calls below
  // hold them all.
  ASSERT_NO_FATAL_FAILURE(RestartServer({"--workers=2"}));
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto first = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 3s}).status();
  });
  auto second = std::async(std::launch::async, [&] {
    return client.Block({.deadline = 3s}).status();
  });
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  constexpr size_t kSize = 16 << 20;  // more than a socket buffer holds
  auto request = client.NewSummarizeRequest(kSize + 1024);
  uint8_t* bytes = nullptr;
  auto data = request.fbb().CreateUninitializedVector(kSize, &bytes);
  std::memset(bytes, 7, kSize);
  request.Finish(ft::CreateBlob(request.fbb(), 1, data));
  const auto start = std::chrono::steady_clock::now();
  auto digest = client.Summarize(std::move(request), {.deadline = 300ms});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(digest.status().code(), StatusCode::kDeadlineExceeded) << digest.status();
  // Before the handlers are done with their own deadlines (sanitized builds are slow, and
  // so a generous margin).
  EXPECT_LT(took, 2500ms);
  // The deadline found the frame partly sent; the link finished it without the caller instead
  // of cutting it short, so the connection and the other calls are untouched.
  EXPECT_EQ(first.get().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(second.get().code(), StatusCode::kDeadlineExceeded);
  auto sum = client.Add(3, 4, {.deadline = 10s});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 7);
}

TEST_P(EndToEnd, SharedMemoryClientsShareTheServersWorkersInsteadOfAddingThreads) {
  if (!shm()) GTEST_SKIP() << "socket and queue connections have threads of their own";
  constexpr int kClients = 100;
  std::vector<Channel> channels;
  for (int i = 0; i < kClients; ++i) {
    channels.push_back(Connected());
    ft::TestService::Client client(channels.back());
    auto sum = client.Add(i, 1, {.deadline = 10s});
    ASSERT_TRUE(sum.ok()) << "client " << i << ": " << sum.status();
    EXPECT_EQ((*sum)->sum(), i + 1);
  }
  // ServerOptions' defaults: a worker per CPU, up to 4 per CPU while handlers block, plus the
  // accept and main threads and the odd handshake still ending.
  const long cpus = static_cast<long>(std::max(1U, std::thread::hardware_concurrency()));
  const long threads = testing::UsageOf(server_->pid()).threads;
  EXPECT_GT(threads, 0);
  EXPECT_LE(threads, 4 * cpus + 8) << "server threads with " << kClients << " clients";
  // And every one of them is still served.
  for (int i = 0; i < kClients; ++i) {
    ft::TestService::Client client(channels[static_cast<size_t>(i)]);
    auto sum = client.Add(i, 2, {.deadline = 10s});
    ASSERT_TRUE(sum.ok()) << "client " << i << ": " << sum.status();
    EXPECT_EQ((*sum)->sum(), i + 2);
  }
}

TEST_P(EndToEnd, KilledServerFailsTheCallInFlightWithUnavailablePromptly) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto call = std::async(std::launch::async, [&] { return client.Block().status(); });
  KillServerOnEarlyExit guard{server_};
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  const auto killed = std::chrono::steady_clock::now();
  server_->Signal(SIGKILL);
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready);
  const auto noticed = std::chrono::steady_clock::now() - killed;
  guard.Done();
  EXPECT_EQ(call.get().code(), StatusCode::kUnavailable);
  EXPECT_LT(noticed, GetParam().death_noticed_within);
  EXPECT_FALSE(channel.connected());
  EXPECT_EQ(client.Add(1, 1).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(server_->Wait(10s).has_value());
  server_.reset();
  EXPECT_TRUE(testing::FerryFilesInDevShm(server_pids_).empty());
  // A killed server leaves its socket file; the next Listen on the name replaces it.
  server_ = StartServer();
  ASSERT_NE(server_, nullptr);
  Channel fresh = Connected();
  ft::TestService::Client again(fresh);
  EXPECT_TRUE(again.Add(1, 1).ok());
}

TEST_P(EndToEnd, AChannelConnectsAgainOnItsNextCallAfterTheServerRestarts) {
  listen_ = endpoint_;  // the restarted server listens where this one does (tcp: its port)
  ConnectOptions options;
  options.allow_shm = GetParam().allow_shm;
  Result<Channel> restarts = Connect(endpoint_, options);
  ConnectOptions slow = options;  // its backoff outlasts the test
  slow.reconnect.initial_backoff = 60s;
  Result<Channel> backs_off = Connect(endpoint_, slow);
  ConnectOptions off = options;
  off.reconnect.enabled = false;
  Result<Channel> stays_lost = Connect(endpoint_, off);
  ASSERT_TRUE(restarts.ok() && backs_off.ok() && stays_lost.ok());
  ft::TestService::Client client(*restarts);
  ft::TestService::Client backing_off(*backs_off);
  ft::TestService::Client lost(*stays_lost);
  ASSERT_TRUE(lost.Add(1, 1).ok());

  // The call in flight when the server dies fails, and is not made again.
  auto call = std::async(std::launch::async, [&] { return client.Block().status(); });
  KillServerOnEarlyExit guard{server_};
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  server_->Signal(SIGKILL);
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready);
  guard.Done();
  EXPECT_EQ(call.get().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(server_->Wait(10s).has_value());
  server_.reset();
  EXPECT_TRUE(Eventually([&] { return backs_off->state() == ChannelState::kIdle; }))
      << ToString(backs_off->state());

  // Nobody listens: the attempt fails, and the calls after it fail at once until the backoff.
  auto refused = backing_off.Add(1, 1);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message().rfind("connecting again to " + endpoint_, 0), 0)
      << refused.status();
  auto backing = backing_off.Add(1, 1);
  EXPECT_EQ(backing.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(backing.status().message().find("the next attempt in"), std::string::npos)
      << backing.status();
  EXPECT_EQ(backs_off->state(), ChannelState::kFailed);

  server_ = StartServer();
  ASSERT_NE(server_, nullptr);
  auto sum = client.Add(20, 22);  // the first call after the restart
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 42);
  EXPECT_EQ(restarts->state(), ChannelState::kReady);
  EXPECT_EQ(restarts->transport(), GetParam().carried_by);  // on shared memory again
  auto stream = client.Watch(3, 10);  // streams go on the new connection too
  int expected = 10;
  for (auto& message : stream) EXPECT_EQ(message->sum(), expected++);
  EXPECT_TRUE(stream.Finish().ok());
  EXPECT_EQ(expected, 13);

  EXPECT_EQ(lost.Add(1, 1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(stays_lost->state(), ChannelState::kFailed);
}

TEST_P(EndToEnd, ThreadsCallingThroughARestartSeeOnlyOkOrUnavailableThenOk) {
  listen_ = endpoint_;
  ConnectOptions options;
  options.allow_shm = GetParam().allow_shm;
  options.reconnect.initial_backoff = 10ms;
  options.reconnect.max_backoff = 50ms;
  Result<Channel> channel = Connect(endpoint_, options);
  ASSERT_TRUE(channel.ok());
  ft::TestService::Client client(*channel);
  constexpr int kThreads = 6;
  std::atomic<bool> restarted{false};
  std::atomic<bool> stop{false};
  std::atomic<int> ok_after_restart{0};
  std::mutex mutex;
  std::vector<std::string> unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      bool counted = false;
      while (!stop.load()) {
        const bool after = restarted.load();
        auto sum = client.Add(t, 1, {.deadline = 10s});
        if (sum.ok()) {
          if ((*sum)->sum() != t + 1) {
            std::lock_guard lock(mutex);
            unexpected.push_back("a wrong sum");
          }
          if (after && !counted) {
            counted = true;
            ok_after_restart.fetch_add(1);
          }
        } else if (sum.status().code() == StatusCode::kUnavailable) {
          std::this_thread::yield();
        } else {
          std::lock_guard lock(mutex);
          unexpected.push_back(sum.status().ToString());
        }
      }
    });
  }
  server_->Signal(SIGKILL);
  const bool exited = server_->Wait(10s).has_value();
  server_.reset();
  if (exited) server_ = StartServer();
  restarted.store(true);
  const bool all_back = Eventually([&] { return ok_after_restart.load() == kThreads; });
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(exited);
  ASSERT_NE(server_, nullptr);
  EXPECT_TRUE(all_back) << ok_after_restart.load() << " of " << kThreads
                        << " threads got an answer after the restart";
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
}

TEST_P(EndToEnd, KilledClientFreesItsConnectionOnTheServer) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  ChildProcess victim = ChildProcess::Exec(ClientArgs({endpoint_, "block"}));
  ASSERT_EQ(victim.ReadLine(kStartTimeout), "connected");
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  EXPECT_TRUE(EventuallyStats(client, [](const ft::Stats& s) { return s.connections() == 2; }));
  victim.Signal(SIGKILL);
  ASSERT_TRUE(victim.Wait(10s).has_value());
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
  EXPECT_TRUE(EventuallyStats(client, [](const ft::Stats& s) { return s.connections() == 1; }));
  EXPECT_TRUE(testing::FerryFilesInDevShm(server_pids_).empty());
}

TEST_P(EndToEnd, ServerShutdownFailsClientsWithUnavailable) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  ASSERT_TRUE(client.Add(1, 1).ok());
  server_->Signal(SIGTERM);
  std::optional<int> status = server_->Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  server_.reset();
  EXPECT_EQ(client.Add(1, 1).status().code(), StatusCode::kUnavailable);
}

TEST_P(EndToEnd, ShutdownWhileEveryWorkerRunsAHandlerEndsThemAndExits) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // Two workers per connection by default: occupy both.
  auto first = std::async(std::launch::async, [&] { return client.Block().status(); });
  auto second = std::async(std::launch::async, [&] { return client.Block().status(); });
  KillServerOnEarlyExit guard{server_};
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  server_->Signal(SIGTERM);
  std::optional<int> status = server_->Wait(10s);
  ASSERT_TRUE(status.has_value()) << "server did not exit with two handlers running";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  server_.reset();
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  guard.Done();
  // UNAVAILABLE as the connection closes, or (shm, a race) the handlers' own CANCELLED.
  for (StatusCode code : {first.get().code(), second.get().code()}) {
    EXPECT_TRUE(code == StatusCode::kUnavailable || code == StatusCode::kCancelled)
        << static_cast<int>(code);
  }
}

TEST_P(EndToEnd, SecondServerOnTheSameNameIsRefused) {
  ChildProcess second = ChildProcess::Exec({HelperPath("ferry_test_server"), endpoint_});
  std::optional<int> status = second.Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  Channel channel = Connected();  // the first one still serves
  ft::TestService::Client client(channel);
  EXPECT_TRUE(client.Add(1, 1).ok());
}

TEST_P(EndToEnd, ConnectToAFrozenServerGivesUpAtTheConnectTimeout) {
  server_->Signal(SIGSTOP);  // accepts nothing, answers nothing
  ConnectOptions options;
  options.connect_timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  Result<Channel> channel = Connect(endpoint_, options);
  const auto took = std::chrono::steady_clock::now() - start;
  server_->Signal(SIGCONT);
  EXPECT_EQ(channel.status().code(), StatusCode::kDeadlineExceeded) << channel.status();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
  Channel fresh = Connected();  // and it serves again once thawed
  ft::TestService::Client client(fresh);
  EXPECT_TRUE(client.Add(1, 1).ok());
}

// ---- Async calls and streams ----

TEST_P(EndToEnd, AsyncUnaryCallsCompleteThroughGetAndThen) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  constexpr int kCalls = 200;
  std::vector<AsyncReply<ft::AddReply>> pending;
  for (int i = 0; i < kCalls / 2; ++i) pending.push_back(client.AddAsync(i, 1000));
  std::promise<void> all_called;
  std::atomic<int> callbacks{0}, correct{0};
  for (int i = 0; i < kCalls / 2; ++i) {
    auto check = [&, i](Result<ReplyView<ft::AddReply>> sum) {
      if (sum.ok() && (*sum)->sum() == i + 2000) correct.fetch_add(1);
      if (callbacks.fetch_add(1) + 1 == kCalls / 2) all_called.set_value();
    };
    if (i % 2 == 0) {  // the callback form from a built request, and from the fields
      auto request = client.NewAddRequest();
      request.Finish(ft::CreateAddRequest(request.fbb(), i, 2000));
      client.AddAsync(std::move(request), check);
    } else {
      client.AddAsync(i, 2000, check);
    }
  }
  for (int i = 0; i < kCalls / 2; ++i) {
    Result<ReplyView<ft::AddReply>> sum = pending[i].Get();
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)->sum(), i + 1000);
  }
  ASSERT_EQ(all_called.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(correct.load(), kCalls / 2);
}

TEST_P(EndToEnd, AsyncCallCancelledEndsOnBothSides) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  AsyncReply<ft::Empty> blocked = BlockAsync(client);
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  EXPECT_FALSE(blocked.Wait(std::chrono::steady_clock::now()));
  blocked.Cancel();
  EXPECT_EQ(blocked.Get().status().code(), StatusCode::kCancelled);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
  EXPECT_TRUE(client.Add(1, 2).ok());
}

TEST_P(EndToEnd, ACallQueuedBehindABlockedHandlerIsStillAnswered) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // Sent back to back, so the second is usually queued before the server reads the first:
  // the blocked handler's connection must still be read by someone.
  AsyncReply<ft::Empty> blocked = BlockAsync(client);
  AsyncReply<ft::AddReply> sum = client.AddAsync(20, 22);
  ASSERT_TRUE(sum.Wait(std::chrono::steady_clock::now() + 10s)) << "the queued call waited";
  Result<ReplyView<ft::AddReply>> got = sum.Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->sum(), 42);
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
  blocked.Cancel();
  EXPECT_EQ(blocked.Get().status().code(), StatusCode::kCancelled);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
}

TEST_P(EndToEnd, AReplyIsNotHeldBackBehindTheNextCallsBlockedHandler) {
  // Sent back to back: over sockets the server often reads both at once, and holds the sum's
  // reply back to batch it with the next one. That must end when the next handler blocks:
  // through the standby worker (the default), or, with one worker per connection, before the
  // handler starts.
  for (const bool one_worker : {false, true}) {
    SCOPED_TRACE(one_worker ? "one worker per connection" : "default workers");
    if (one_worker) {
      ASSERT_NO_FATAL_FAILURE(RestartServer({"--workers=1"}));
    }
    Channel channel = Connected();
    ft::TestService::Client client(channel);
    AsyncReply<ft::AddReply> sum = client.AddAsync(20, 22);
    auto request = client.NewBlockRequest();
    request.Finish(ft::CreateEmpty(request.fbb()));
    // With one worker, the one in the handler, nobody reads a Cancel: the deadline ends it.
    AsyncReply<ft::Empty> blocked =
        client.BlockAsync(std::move(request), {.deadline = one_worker ? 2s : 60s});
    ASSERT_EQ(server_->ReadLine(kStartTimeout), "blocked");
    ASSERT_TRUE(sum.Wait(std::chrono::steady_clock::now() + 10s)) << "the reply was held back";
    ASSERT_FALSE(blocked.Wait(std::chrono::steady_clock::now()))
        << "the reply came only once the blocked handler was done";
    Result<ReplyView<ft::AddReply>> got = sum.Get();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)->sum(), 42);
    if (!one_worker) blocked.Cancel();
    EXPECT_EQ(blocked.Get().status().code(),
              one_worker ? StatusCode::kDeadlineExceeded : StatusCode::kCancelled);
    EXPECT_EQ(server_->ReadLine(kStartTimeout), "unblocked");
  }
}

TEST_P(EndToEnd, ServerStreamDeliversEveryMessageInOrder) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewWatchRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 1000, 7));
  auto stream = client.Watch(std::move(request));
  int expected = 7;
  for (auto& message : stream) EXPECT_EQ(message->sum(), expected++);
  EXPECT_EQ(expected, 1007);
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_P(EndToEnd, LargeServerStreamMessagesArriveIntactAndUncopiedOnShm) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  const uint64_t copied_before = channel.bytes_copied();
  auto request = client.NewDownloadRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 6, 1 << 20));
  auto stream = client.Download(std::move(request));
  uint64_t seq = 0;
  for (auto& blob : stream) {
    ASSERT_EQ(blob->seq(), seq);
    ASSERT_EQ(blob->data()->size(), 1U << 20);
    EXPECT_EQ(blob->data()->Get(12345), seq % 251);
    ++seq;
  }
  EXPECT_EQ(seq, 6U);
  EXPECT_TRUE(stream.Finish().ok());
  if (shm()) {
    EXPECT_EQ(channel.bytes_copied(), copied_before);
  }
}

TEST_P(EndToEnd, ClientStreamUploadsEightMiBFramesWithoutCopiesOnShm) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  const uint64_t copied_before = channel.bytes_copied();
  constexpr size_t kFrame = 8 << 20;
  auto upload = client.Upload();
  uint64_t sum = 0;
  for (uint64_t i = 0; i < 3; ++i) {
    auto frame = upload.NewMessage(kFrame + 1024);
    uint8_t* bytes = nullptr;
    auto data = frame.fbb().CreateUninitializedVector(kFrame, &bytes);
    std::fill(bytes, bytes + kFrame, static_cast<uint8_t>(i + 1));
    sum += kFrame * (i + 1);
    frame.Finish(ft::CreateBlob(frame.fbb(), i, data));
    ASSERT_TRUE(upload.Write(std::move(frame)).ok());
  }
  Result<ReplyView<ft::Digest>> digest = upload.Finish();
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ((*digest)->size(), 3 * kFrame);
  EXPECT_EQ((*digest)->first(), 1);
  EXPECT_EQ((*digest)->last(), 3);
  EXPECT_EQ((*digest)->sum(), sum);
  if (shm()) {
    EXPECT_EQ(channel.bytes_copied(), copied_before);
  }
}

TEST_P(EndToEnd, BidiStreamEchoesEachMessageUntilTheClientIsDone) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto chat = client.Chat();
  for (uint64_t i = 0; i < 100; ++i) {
    auto message = chat.NewMessage();
    const std::vector<uint8_t> payload(i, static_cast<uint8_t>(i));
    message.Finish(ft::CreateBlob(message.fbb(), i, message.fbb().CreateVector(payload)));
    ASSERT_TRUE(chat.Write(std::move(message)).ok());
    std::optional<MessageView<ft::Blob>> echo = chat.Read();
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ((*echo)->seq(), i);
    EXPECT_EQ((*echo)->data()->size(), i);
  }
  ASSERT_TRUE(chat.WritesDone().ok());
  EXPECT_FALSE(chat.Read().has_value());
  EXPECT_TRUE(chat.Finish().ok());
}

TEST_P(EndToEnd, StreamDeadlineEndsItOnBothSides) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  // The first Watch on the connection also carries the method's schema check: have it out of
  // the way of the timed one (a short stream that ends by itself).
  auto first = client.Watch(1, 0);
  while (first.Read().has_value()) {
  }
  ASSERT_TRUE(first.Finish().ok());
  auto request = client.NewWatchRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), -1, 0));
  auto stream = client.Watch(std::move(request), {.deadline = 100ms});
  int read = 0;
  for (auto& message : stream) {
    (void)message;
    ++read;
  }
  EXPECT_GT(read, 0);
  EXPECT_EQ(stream.Finish().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "stream cancelled");
  EXPECT_TRUE(client.Add(1, 2).ok());
}

TEST_P(EndToEnd, ClientCancelMidStreamEndsItOnBothSidesAndTheChannelGoesOn) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewWatchRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), -1, 0));
  auto stream = client.Watch(std::move(request));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(stream.Read().has_value());
  stream.Cancel();
  EXPECT_FALSE(stream.Read().has_value());
  EXPECT_EQ(stream.Finish().code(), StatusCode::kCancelled);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "stream cancelled");
  auto sum = client.Add(20, 22);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 42);
}

TEST_P(EndToEnd, ServerEndingAStreamEarlyReachesTheClientAfterItsMessages) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewWatchThenFailRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 3, 0));
  auto stream = client.WatchThenFail(std::move(request));
  int read = 0;
  for (auto& message : stream) EXPECT_EQ(message->sum(), read++);
  EXPECT_EQ(read, 3);
  EXPECT_EQ(stream.Finish(), Status(StatusCode::kAborted, "ended early"));
}

TEST_P(EndToEnd, ASlowReaderHoldsTheWriterAtItsWindowWithoutBlockingOtherCalls) {
  ConnectOptions options;
  options.allow_shm = GetParam().allow_shm;
  options.stream_window.messages = 4;
  Result<Channel> channel = Connect(endpoint_, options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  auto request = client.NewWatchRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 100, 0));
  auto stream = client.Watch(std::move(request));
  // Nothing is read: the server writes its window and waits.
  ASSERT_TRUE(EventuallyStats(client, [](const ft::Stats& s) { return s.stream_messages() == 4; }));
  auto sum = client.Add(1, 2);  // other calls on the channel go on meanwhile
  ASSERT_TRUE(sum.ok()) << sum.status();
  auto stats = client.GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)->stream_messages(), 4U);
  int read = 0;
  for (auto& message : stream) EXPECT_EQ(message->sum(), read++);
  EXPECT_EQ(read, 100);
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_P(EndToEnd, KilledClientMidStreamEndsTheStreamOnTheServer) {
  ChildProcess victim = ChildProcess::Exec(ClientArgs({endpoint_, "watch"}));
  ASSERT_EQ(victim.ReadLine(kStartTimeout), "streaming");
  victim.Signal(SIGKILL);
  ASSERT_TRUE(victim.Wait(10s).has_value());
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "stream cancelled");
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  EXPECT_TRUE(EventuallyStats(client, [](const ft::Stats& s) { return s.connections() == 1; }));
}

TEST_P(EndToEnd, KilledServerMidStreamEndsItWithUnavailable) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewWatchRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), -1, 0));
  auto stream = client.Watch(std::move(request));
  ASSERT_TRUE(stream.Read().has_value());
  server_->Signal(SIGKILL);
  while (stream.Read()) {
  }
  EXPECT_EQ(stream.Finish().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(server_->Wait(10s).has_value());
  // A killed server leaves its socket file; the next server on the name replaces it.
  server_ = StartServer();
  ASSERT_NE(server_, nullptr);
}

TEST_P(EndToEnd, EveryStatusCodeReachesTheCallerWithItsTextBoundedAt4KiB) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  for (uint32_t code = 1; code <= static_cast<uint32_t>(StatusCode::kUnauthenticated); ++code) {
    auto request = client.NewFailWithRequest();
    request.Finish(ft::CreateAddRequest(request.fbb(), static_cast<int32_t>(code), 100));
    auto outcome = client.FailWith(std::move(request));
    EXPECT_EQ(outcome.status(), Status(static_cast<StatusCode>(code), std::string(100, 'x')));
  }
  auto request = client.NewFailWithRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 13, 10000));
  auto outcome = client.FailWith(std::move(request));
  EXPECT_EQ(outcome.status(), Status(StatusCode::kInternal, std::string(4096, 'x')));
}

TEST_P(EndToEnd, AReplyDeferredToAnotherThreadArrives) {
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto request = client.NewSleepRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 20, 22));
  auto sum = client.Sleep(std::move(request));
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 42);
  EXPECT_EQ(server_->ReadLine(kStartTimeout), "sleeping");
}

TEST_P(EndToEnd, ShutdownWithADeadlineLetsCallsAndStreamsInFlightFinish) {
  ASSERT_NO_FATAL_FAILURE(RestartServer({"--drain-ms=10000"}));
  Channel channel = Connected();
  ft::TestService::Client client(channel);
  auto sleep = client.NewSleepRequest();
  sleep.Finish(ft::CreateAddRequest(sleep.fbb(), 200, 1));
  AsyncReply<ft::AddReply> slow = client.SleepAsync(std::move(sleep));
  ASSERT_EQ(server_->ReadLine(kStartTimeout), "sleeping");
  auto watch = client.NewWatchRequest();
  watch.Finish(ft::CreateAddRequest(watch.fbb(), 300, 0));
  auto stream = client.Watch(std::move(watch));
  ASSERT_TRUE(stream.Read().has_value());
  server_->Signal(SIGTERM);  // the server drains: both calls finish
  Result<ReplyView<ft::AddReply>> sum = slow.Get();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 201);
  int read = 1;
  while (stream.Read()) ++read;
  EXPECT_EQ(read, 300);
  EXPECT_TRUE(stream.Finish().ok());
  std::optional<int> status = server_->Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  server_.reset();
}

INSTANTIATE_TEST_SUITE_P(
    Transports, EndToEnd,
    ::testing::Values(Transport{"shm", "shm://e2e", true, 100ms, "shm"},
                      Transport{"unix", "unix://{dir}/e2e-unix.sock", false, 100ms, "unix"},
                      Transport{"tcp", "tcp://127.0.0.1:0", false, 100ms, "tcp"},
                      Transport{"tcp_upgraded", "tcp://127.0.0.1:0", true, 100ms, "shm"},
                      Transport{"mq", "mq://e2e", false, 1000ms, "mq"}),
    TransportName);

TEST(Connect, ToANameNobodyServesIsUnavailable) {
  testing::ScopedRuntimeDir dir;
  EXPECT_EQ(Connect("shm://nobody-here").status().code(), StatusCode::kUnavailable);
}

// A server in this process, so that the test can read what it counted.
class CountedAdder final : public ft::TestService::Service {
 public:
  Status Add(CallContext&, const ft::AddRequest& request, Reply<ft::AddReply>& reply) override {
    if (request.a() < 0) return Status::InvalidArgument("negative");
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return Status::Ok();
  }
};

TEST(ServerStats, EachMethodCountsItsCallsErrorsByStatusAndLatencies) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<CountedAdder>()).ok());
  ASSERT_TRUE(server.Listen("shm://stats").ok());
  std::thread serving([&] { server.Run(); });
  {
    Result<Channel> channel = Connect("shm://stats");
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.Add(i, 1).ok());
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(client.Add(-1, 1).status().code(), StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(client.Block().status().code(), StatusCode::kUnimplemented);
  }
  server.Shutdown();
  serving.join();

  std::vector<MethodStats> stats = server.method_stats();
  const auto of = [&](std::string_view name) {
    return *std::find_if(stats.begin(), stats.end(),
                         [&](const MethodStats& s) { return s.method == name; });
  };
  const MethodStats add = of("ferry.test.TestService.Add");
  EXPECT_EQ(add.calls, 7U);
  EXPECT_EQ(add.errors, 2U);
  EXPECT_EQ(add.by_status, (std::vector<std::pair<StatusCode, uint64_t>>{
                               {StatusCode::kOk, 5}, {StatusCode::kInvalidArgument, 2}}));
  uint64_t histogram_total = 0;
  for (const auto& [bound, count] : add.latency) histogram_total += count;
  EXPECT_EQ(histogram_total, 7U);
  EXPECT_GT(add.LatencyBoundMicros(0.5), 0U);
  const MethodStats block = of("ferry.test.TestService.Block");
  EXPECT_EQ(block.calls, 1U);
  EXPECT_EQ(block.errors, 1U);
  EXPECT_EQ(of("ferry.test.TestService.Watch").calls, 0U);
}

TEST(ServerInterceptors, RunAroundEveryCallInOrderAndMayRefuseOrChangeIt) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<CountedAdder>()).ok());
  std::mutex mutex;
  std::vector<std::string> seen;
  const auto note = [&](std::string line) {
    std::lock_guard lock(mutex);
    seen.push_back(std::move(line));
  };
  // Outermost: records the method and the caller, and what the call ended with.
  ASSERT_TRUE(server
                  .Intercept([&](CallContext& context, const std::function<Status()>& next) {
                    note("outer " + std::string(context.method()) + " pid " +
                         std::to_string(context.peer().pid));
                    Status status = next();
                    note("outer done " + std::string(StatusCodeName(status.code())));
                    return status;
                  })
                  .ok());
  // Inner: refuses Block before its handler runs (which would say UNIMPLEMENTED), and turns
  // an INVALID_ARGUMENT into OUT_OF_RANGE.
  ASSERT_TRUE(server
                  .Intercept([&](CallContext& context,
                                 const std::function<Status()>& next) -> Status {
                    note("inner");
                    if (context.method() == "ferry.test.TestService.Block") {
                      return Status::PermissionDenied("not for you");
                    }
                    Status status = next();
                    if (status.code() == StatusCode::kInvalidArgument) {
                      return Status::OutOfRange("rewritten: " + status.message());
                    }
                    return status;
                  })
                  .ok());
  ASSERT_TRUE(server.Listen("shm://intercepted").ok());
  EXPECT_EQ(server.Intercept([](CallContext&, const std::function<Status()>& next) {
                    return next();
                  }).code(),
            StatusCode::kFailedPrecondition);
  std::thread serving([&] { server.Run(); });
  Status refused_by_handler;
  {
    Result<Channel> channel = Connect("shm://intercepted");
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    auto sum = client.Add(2, 3);
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)->sum(), 5);
    refused_by_handler = client.Add(-1, 0).status();
    const Status blocked = client.Block().status();
    EXPECT_EQ(blocked.code(), StatusCode::kPermissionDenied) << blocked;
  }
  server.Shutdown();
  serving.join();
  EXPECT_EQ(refused_by_handler.code(), StatusCode::kOutOfRange) << refused_by_handler;
  EXPECT_EQ(refused_by_handler.message(), "rewritten: negative");
  const std::string outer = "outer ferry.test.TestService.Add pid " + std::to_string(getpid());
  EXPECT_EQ(seen, (std::vector<std::string>{
                      outer, "inner", "outer done OK", outer, "inner", "outer done OUT_OF_RANGE",
                      "outer ferry.test.TestService.Block pid " + std::to_string(getpid()),
                      "inner", "outer done PERMISSION_DENIED"}));
}

// A stream handler whose only way out is its OnCancel callback (it writes on events).
class WaitsForCancel final : public ft::TestService::Service {
 public:
  Status Watch(CallContext& context, const ft::AddRequest&,
               ServerWriter<ft::AddReply>& writer) override {
    auto cancelled = std::make_shared<std::promise<void>>();
    std::future<void> told = cancelled->get_future();
    context.OnCancel([cancelled] { cancelled->set_value(); });
    auto message = writer.NewMessage();
    message.Finish(ft::CreateAddReply(message.fbb(), 1));
    (void)writer.Write(std::move(message));  // the client knows the handler runs
    // Bounded, so that a callback that never comes fails the test rather than hanging it.
    if (told.wait_for(10s) == std::future_status::ready) told_in_time.fetch_add(1);
    return Status::Cancelled("told by OnCancel");
  }
  std::atomic<int> told_in_time{0};
};

// A server in this process on `endpoint`, shut down and joined when the object goes, whatever
// an assertion cut short; and a channel to it that stays on the socket.
class InProcessServer {
 public:
  Status Start(std::shared_ptr<ft::TestService::Service> service, const std::string& endpoint) {
    if (Status added = server_.Add(std::move(service)); !added.ok()) return added;
    if (Status listening = server_.Listen(endpoint); !listening.ok()) return listening;
    serving_ = std::thread([this] { server_.Run(); });
    return Status::Ok();
  }
  void Stop() {
    server_.Shutdown();
    if (serving_.joinable()) serving_.join();
  }
  ~InProcessServer() { Stop(); }

  static Result<Channel> ConnectOnTheSocket(const std::string& endpoint) {
    ConnectOptions options;
    options.allow_shm = false;
    return Connect(endpoint, options);
  }

 private:
  Server server_;
  std::thread serving_;
};

TEST(OnCancel, RunsWhenTheServerShutsDownUnderAStream) {
  testing::ScopedRuntimeDir dir;
  for (const std::string& endpoint : {std::string("shm://on-cancel"),
                                     "unix://" + dir.path() + "/on-cancel.sock"}) {
    SCOPED_TRACE(endpoint);
    auto service = std::make_shared<WaitsForCancel>();
    InProcessServer server;
    ASSERT_TRUE(server.Start(service, endpoint).ok());
    Result<Channel> channel = InProcessServer::ConnectOnTheSocket(endpoint);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    auto stream = client.Watch(-1, 0);
    EXPECT_TRUE(stream.Read().has_value());
    // Shutdown ends the connection; without its OnCancel the handler would wait its 10 s out.
    server.Stop();
    EXPECT_EQ(service->told_in_time.load(), 1);
    while (stream.Read()) {
    }
    EXPECT_FALSE(stream.Finish().ok());
  }
}

// Keeps every Add's reply for later (DeferredReply), past its server's life if need be.
class KeepsReplies final : public ft::TestService::Service {
 public:
  Status Add(CallContext&, const ft::AddRequest&, Reply<ft::AddReply>& reply) override {
    std::lock_guard lock(mutex);
    kept.push_back(reply.Defer());
    deferred.notify_all();
    return Status::Ok();
  }
  std::mutex mutex;
  std::condition_variable deferred;
  std::vector<DeferredReply<ft::AddReply>> kept;
};

TEST(DeferredReply, SentAfterItsServerIsGoneIsDroppedSafely) {
  testing::ScopedRuntimeDir dir;
  for (const std::string& endpoint : {std::string("shm://deferred-late"),
                                     "unix://" + dir.path() + "/deferred-late.sock"}) {
    SCOPED_TRACE(endpoint);
    auto service = std::make_shared<KeepsReplies>();
    {
      InProcessServer server;
      ASSERT_TRUE(server.Start(service, endpoint).ok());
      Result<Channel> channel = InProcessServer::ConnectOnTheSocket(endpoint);
      ASSERT_TRUE(channel.ok()) << channel.status();
      ft::TestService::Client client(*channel);
      AsyncReply<ft::AddReply> sum = client.AddAsync(1, 2);
      {
        std::unique_lock lock(service->mutex);
        ASSERT_TRUE(service->deferred.wait_for(lock, 10s, [&] { return !service->kept.empty(); }));
      }
      server.Stop();
      EXPECT_EQ(sum.Get().status().code(), StatusCode::kUnavailable);
    }  // the server is gone; its connection lives on in the kept reply
    DeferredReply<ft::AddReply> late = std::move(service->kept.front());
    service->kept.clear();
    late.Finish(ft::CreateAddReply(late.fbb(), 3));
    late.Send(Status::Ok());  // nowhere to go, and nothing of the server is touched
  }
}

TEST(ClientInterceptors, RunAroundEveryCallInOrderAndMayRefuseOrChangeIt) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<CountedAdder>()).ok());
  ASSERT_TRUE(server.Listen("shm://client-intercepted").ok());
  std::thread serving([&] { server.Run(); });
  std::vector<std::string> seen;  // every call is made from this thread
  ConnectOptions options;
  // Outermost: records the call and what it ended with.
  options.interceptors.push_back([&](const ClientCallInfo& call,
                                     const std::function<Status()>& next) {
    seen.push_back("outer " + std::string(call.method) + " " +
                   std::string(MethodKindName(call.kind)) + " " + std::string(call.endpoint));
    Status status = next();
    seen.push_back("outer done " + std::string(StatusCodeName(status.code())));
    return status;
  });
  // Inner: refuses Block and Watch before anything is sent, and turns an INVALID_ARGUMENT
  // into OUT_OF_RANGE.
  options.interceptors.push_back([&](const ClientCallInfo& call,
                                     const std::function<Status()>& next) -> Status {
    seen.push_back("inner");
    if (call.method == "ferry.test.TestService.Block" ||
        call.method == "ferry.test.TestService.Watch") {
      return Status::PermissionDenied("not for you");
    }
    Status status = next();
    if (status.code() == StatusCode::kInvalidArgument) {
      return Status::OutOfRange("rewritten: " + status.message());
    }
    return status;
  });
  ConnectOptions careless;  // lets no call through, yet says OK
  careless.interceptors.push_back(
      [](const ClientCallInfo&, const std::function<Status()>&) { return Status::Ok(); });
  {
    Result<Channel> channel = Connect("shm://client-intercepted", options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    auto sum = client.Add(2, 3);
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)->sum(), 5);
    const Status rewritten = client.Add(-1, 0).status();
    EXPECT_EQ(rewritten.code(), StatusCode::kOutOfRange) << rewritten;
    EXPECT_EQ(rewritten.message(), "rewritten: negative");
    const Status blocked = client.Block().status();
    EXPECT_EQ(blocked.code(), StatusCode::kPermissionDenied) << blocked;
    ClientReader<ft::AddReply> watch = client.Watch(3, 0);
    EXPECT_FALSE(watch.Read().has_value());
    const Status watched = watch.Finish();
    EXPECT_EQ(watched.code(), StatusCode::kPermissionDenied) << watched;

    Result<Channel> other = Connect("shm://client-intercepted", careless);
    ASSERT_TRUE(other.ok()) << other.status();
    const Status lost = ft::TestService::Client(*other).Add(1, 1).status();
    EXPECT_EQ(lost.code(), StatusCode::kInternal) << lost;
    EXPECT_NE(lost.message().find("returned OK without making the call"), std::string::npos)
        << lost;
  }
  server.Shutdown();
  serving.join();
  // Counted once their reply has gone, which the client may see first: read after shutdown.
  std::map<std::string, uint64_t> calls;
  for (const MethodStats& stats : server.method_stats()) calls[stats.method] = stats.calls;
  // Only the two Adds reached the server.
  EXPECT_EQ(calls["ferry.test.TestService.Add"], 2U);
  EXPECT_EQ(calls["ferry.test.TestService.Block"], 0U);
  EXPECT_EQ(calls["ferry.test.TestService.Watch"], 0U);
  const std::string at = " shm://client-intercepted";
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "outer ferry.test.TestService.Add unary" + at, "inner", "outer done OK",
                      "outer ferry.test.TestService.Add unary" + at, "inner",
                      "outer done OUT_OF_RANGE", "outer ferry.test.TestService.Block unary" + at,
                      "inner", "outer done PERMISSION_DENIED",
                      "outer ferry.test.TestService.Watch server-streaming" + at, "inner",
                      "outer done PERMISSION_DENIED"}));
}

TEST(Connect, ToAServerThatIsNotFerryIsDataLossSayingWhatCame) {
  // A listener that greets like sshd does, whatever it is sent.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  std::thread greeter([listener] {
    const int peer = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) return;
    const char banner[] = "SSH-2.0-OpenSSH_9.2\r\n";
    (void)!write(peer, banner, sizeof(banner) - 1);
    char ignored[256];
    while (read(peer, ignored, sizeof(ignored)) > 0) {
    }
    close(peer);
  });

  Result<Channel> channel =
      Connect("tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  greeter.join();
  close(listener);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(channel.status().message().find("not a ferry peer"), std::string::npos)
      << channel.status();
  EXPECT_NE(channel.status().message().find("\"SSH-\""), std::string::npos) << channel.status();
}

TEST(Connect, ToAMalformedEndpointIsInvalidArgument) {
  testing::ScopedRuntimeDir dir;
  EXPECT_EQ(Connect("shm:/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Connect("carrier-pigeon://x").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry
