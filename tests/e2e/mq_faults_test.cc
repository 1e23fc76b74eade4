// mq:// under faults: peers that vanish right after the handshake (either side), quick
// connect/call/disconnect cycles, and clients SIGKILLed mid-call, after which the server must
// hold no more threads or memory than before.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/permissions.hpp>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "call/handshake.h"
#include "ferry/ferry.h"
#include "support/process.h"
#include "support/raw_socket.h"
#include "support/sanitizers.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::HelperPath;
namespace bip = boost::interprocess;
namespace ft = ferry::test;

// The environment variable that turns MqFaultsClient.EchoesUntilKilled into a client of the
// server at that endpoint (the probe below runs this binary as its clients).
constexpr char kClientEndpointVariable[] = "FERRY_MQ_FAULTS_CLIENT";

class MinimalService final : public ft::TestService::Service {
  Status Add(CallContext&, const ft::AddRequest& request, Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return Status::Ok();
  }
};

// The bytes a handshake function writes, captured through a socket pair, so that a forked
// child can replay them with write(2) alone.
template <class Write>
std::vector<uint8_t> Captured(Write write_frame) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return {};
  std::vector<uint8_t> bytes;
  if (write_frame(fds[0]).ok()) {
    shutdown(fds[0], SHUT_WR);
    uint8_t buffer[4096];
    ssize_t n;
    while ((n = read(fds[1], buffer, sizeof(buffer))) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
  }
  close(fds[0]);
  close(fds[1]);
  return bytes;
}

// Reads one rendezvous frame (u32 little-endian length, then that many bytes) and drops it;
// system calls only, for forked children.
bool SkipFrame(int fd) {
  uint8_t length_bytes[4];
  size_t got = 0;
  while (got < 4) {
    const ssize_t n = read(fd, length_bytes + got, 4 - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  uint32_t left = length_bytes[0] | (length_bytes[1] << 8) | (length_bytes[2] << 16) |
                  (static_cast<uint32_t>(length_bytes[3]) << 24);
  uint8_t buffer[512];
  while (left > 0) {
    const ssize_t n = read(fd, buffer, left < sizeof(buffer) ? left : sizeof(buffer));
    if (n <= 0) return false;
    left -= static_cast<uint32_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int ListenAt(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 8) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// A fake mq server that completes one handshake and is gone (exits, or is killed) before it
// sends anything on the queues: the client's calls must fail with UNAVAILABLE within the
// heartbeat bound, with or without a deadline.
TEST(MqFaults, ServerGoneAfterTheHandshakeFailsCallsWithUnavailable) {
  testing::ScopedRuntimeDir dir;
  int round = 0;
  for (const bool killed : {false, true}) {
    for (const bool with_deadline : {false, true}) {
      SCOPED_TRACE(std::string(killed ? "killed" : "exited") +
                   (with_deadline ? ", with a deadline" : ", without a deadline"));
      const std::string name = "gone" + std::to_string(round);
      const std::string path = dir.path() + "/" + name + ".mq.sock";
      const std::string prefix =
          "ferry-mq-" + std::to_string(getpid()) + "-fake" + std::to_string(round++);
      internal::QueueWelcomeInfo welcome{prefix + "-req", prefix + "-rep", 64 * 1024,
                                         1 << 20, 100};
      {
        bip::message_queue request(bip::create_only, welcome.request_queue.c_str(), 16,
                                   welcome.queue_message_bytes, bip::permissions(0600));
        bip::message_queue reply(bip::create_only, welcome.reply_queue.c_str(), 16,
                                 welcome.queue_message_bytes, bip::permissions(0600));
      }
      const std::vector<uint8_t> welcome_bytes =
          Captured([&](int fd) { return internal::SendQueueWelcome(fd, welcome); });
      ASSERT_FALSE(welcome_bytes.empty());
      const int listener = ListenAt(path);
      ASSERT_GE(listener, 0);
      ChildProcess server = ChildProcess::Fork([&]() -> int {
        const int client = accept(listener, nullptr, nullptr);
        if (client < 0 || !SkipFrame(client) || !WriteAll(client, welcome_bytes) ||
            !SkipFrame(client)) {
          return 3;
        }
        if (killed) pause();  // until SIGKILL
        return 0;
      });
      close(listener);

      Result<Channel> channel = Connect("mq://" + name);
      unlink(path.c_str());
      bip::message_queue::remove(welcome.request_queue.c_str());
      bip::message_queue::remove(welcome.reply_queue.c_str());
      ASSERT_TRUE(channel.ok()) << channel.status();
      if (killed) server.Signal(SIGKILL);
      const std::optional<int> status = server.Wait(10s);
      ASSERT_TRUE(status.has_value());
      EXPECT_EQ(killed, WIFSIGNALED(*status)) << testing::DescribeWaitStatus(*status);

      ft::TestService::Client client(*channel);
      const Clock::time_point start = Clock::now();
      CallOptions options;
      if (with_deadline) options.deadline = 30s;
      auto sum = client.Add(1, 2, options);
      EXPECT_EQ(sum.status().code(), StatusCode::kUnavailable) << sum.status();
      EXPECT_LT(Clock::now() - start, 5s);  // 10x the promised 500 ms
    }
  }
  EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

// Fake mq clients that complete the handshake and are gone (exit, or killed) before they send
// anything on the queues: each connection finishes at once, so four of them cannot keep a
// server with max_connections 4 from serving a good client.
TEST(MqFaults, ClientsGoneAfterTheHandshakeDoNotLockTheServerOut) {
  testing::ScopedRuntimeDir dir;
  ServerOptions server_options;
  server_options.max_connections = 4;
  Server server(server_options);
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("mq://lockout").ok());
  const std::string path = dir.path() + "/lockout.mq.sock";
  const std::vector<uint8_t> hello = Captured([](int fd) { return internal::SendHello(fd); });
  const std::vector<uint8_t> mapped = Captured([](int fd) { return internal::SendMapped(fd); });
  ASSERT_FALSE(hello.empty());
  ASSERT_FALSE(mapped.empty());

  for (int round = 0; round < 3; ++round) {
    const bool killed = round % 2 == 1;
    SCOPED_TRACE("round " + std::to_string(round) + (killed ? ", killed" : ", exited"));
    // The previous round's good client is gone once the server has noticed.
    const Clock::time_point idle_by = Clock::now() + 10s;
    while (server.connection_count() > 0 && Clock::now() < idle_by) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(server.connection_count(), 0u);
    int ready[2];  // each child writes one byte once its handshake is done
    ASSERT_EQ(pipe(ready), 0);
    std::vector<ChildProcess> clients;
    for (int i = 0; i < 4; ++i) {
      clients.push_back(ChildProcess::Fork([&]() -> int {
        close(ready[0]);
        const int fd = testing::ConnectUnixRaw(path);
        if (fd < 0 || !WriteAll(fd, hello) || !SkipFrame(fd) || !WriteAll(fd, mapped)) return 3;
        const char byte = 1;
        if (write(ready[1], &byte, 1) != 1) return 4;
        if (killed) pause();  // until SIGKILL
        return 0;
      }));
    }
    close(ready[1]);
    char bytes[4];
    size_t got = 0;
    while (got < sizeof(bytes)) {
      pollfd readable{ready[0], POLLIN, 0};
      if (poll(&readable, 1, 10000) != 1) break;
      const ssize_t n = read(ready[0], bytes + got, sizeof(bytes) - got);
      if (n <= 0) break;  // every child exited
      got += static_cast<size_t>(n);
    }
    close(ready[0]);
    EXPECT_EQ(got, sizeof(bytes));
    for (ChildProcess& client : clients) {
      if (killed) client.Signal(SIGKILL);
      const std::optional<int> status = client.Wait(10s);
      ASSERT_TRUE(status.has_value());
      EXPECT_TRUE(killed ? WIFSIGNALED(*status) : WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << testing::DescribeWaitStatus(*status);
    }
    // A good client gets in at once (the server notices the hang-ups within a slice; the
    // retries only cover that).
    const Clock::time_point start = Clock::now();
    Result<Channel> channel = Status::Unavailable("not tried");
    while (Clock::now() - start < 5s) {
      channel = Connect("mq://lockout");
      if (channel.ok() || channel.status().code() != StatusCode::kResourceExhausted) break;
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(channel.ok()) << channel.status();
    EXPECT_LT(Clock::now() - start, 1s);
    ft::TestService::Client client(*channel);
    auto sum = client.Add(2, 3);
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)->sum(), 5);
  }
  server.Shutdown();
  EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

std::unique_ptr<ChildProcess> StartServer(const std::string& listen, std::string* endpoint) {
  auto server =
      std::make_unique<ChildProcess>(ChildProcess::Exec({HelperPath("ferry_test_server"), listen}));
  std::optional<std::string> line = server->ReadLine(30s);
  if (!line || line->rfind("ready ", 0) != 0) return nullptr;
  *endpoint = line->substr(6);
  return server;
}

void StopServer(ChildProcess& server) {
  server.Signal(SIGTERM);
  const std::optional<int> status = server.Wait(10s);
  ASSERT_TRUE(status.has_value()) << "server did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testing::DescribeWaitStatus(*status);
}

TEST(MqFaults, ThousandQuickConnectCallDisconnectCyclesAreNeverRefused) {
  testing::ScopedRuntimeDir dir;
  std::string endpoint;
  std::unique_ptr<ChildProcess> server = StartServer("mq://cycles", &endpoint);
  ASSERT_NE(server, nullptr);
  int refused = 0;
  int failed = 0;
  std::string first_failure;
  for (int i = 0; i < 1000; ++i) {
    Result<Channel> channel = Connect(endpoint);
    if (!channel.ok()) {
      ++(channel.status().code() == StatusCode::kResourceExhausted ? refused : failed);
      if (first_failure.empty()) first_failure = channel.status().ToString();
      continue;
    }
    ft::TestService::Client client(*channel);
    auto sum = client.Add(i, 1);
    if (!sum.ok() || (*sum)->sum() != i + 1) {
      ++failed;
      if (first_failure.empty()) first_failure = sum.status().ToString();
    }
  }
  EXPECT_EQ(refused, 0) << first_failure;
  EXPECT_EQ(failed, 0) << first_failure;
  StopServer(*server);
  EXPECT_TRUE(testing::FerryFilesInDevShm({server->pid()}).empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

using testing::ProcessUsage;
using testing::UsageOf;

// Not a test of its own: with FERRY_MQ_FAULTS_CLIENT=<endpoint> it is the client that the
// next test SIGKILLs mid-call (this binary, run again).
TEST(MqFaultsClient, EchoesUntilKilled) {
  const char* endpoint = std::getenv(kClientEndpointVariable);
  if (endpoint == nullptr) GTEST_SKIP() << "a helper for MqFaults.KilledClients...";
  Result<Channel> channel = Connect(endpoint);
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  std::cout << "connected" << std::endl;
  std::mt19937 random(static_cast<uint32_t>(getpid()));
  for (uint64_t seq = 0;; ++seq) {
    // Up to 4 MiB each way: most of a call is spent copying through the queues' mutexes.
    const size_t size = std::uniform_int_distribution<size_t>(1, 4 << 20)(random);
    auto request = client.NewEchoRequest(size + 1024);
    uint8_t* bytes = nullptr;
    auto data = request.fbb().CreateUninitializedVector(size, &bytes);
    std::memset(bytes, static_cast<int>(seq), size);
    request.Finish(ft::CreateBlob(request.fbb(), seq, data));
    auto echo = client.Echo(std::move(request));
    ASSERT_TRUE(echo.ok()) << echo.status();
  }
}

// 50 clients (FERRY_MQ_KILLS to change it; the probe uses 200) SIGKILLed at random
// moments mid-call, with requests and replies up to 4 MiB: afterwards the server runs as many
// threads as before and its RSS is within 10% (plus 2 MiB of allocator slack) of what it was.
TEST(MqFaults, KilledClientsCostTheServerNothingThatOutlivesTheirConnections) {
  testing::ScopedRuntimeDir dir;
  std::string endpoint;
  std::unique_ptr<ChildProcess> server = StartServer("mq://kills", &endpoint);
  ASSERT_NE(server, nullptr);
  const char* kills_text = std::getenv("FERRY_MQ_KILLS");
  const int kills = kills_text != nullptr ? std::atoi(kills_text) : 50;
  setenv(kClientEndpointVariable, endpoint.c_str(), 1);
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  std::mt19937 random(12345);

  const auto kill_one = [&] {
    ChildProcess client = ChildProcess::Exec(
        {self, "--gtest_filter=MqFaultsClient.EchoesUntilKilled", "--gtest_brief=1"});
    std::optional<std::string> line;
    do {  // after gtest's own lines
      line = client.ReadLine(30s);
    } while (line && *line != "connected");
    EXPECT_EQ(line, "connected");
    // A random moment of the call stream, so that some land inside queue operations.
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 40000)(random)));
    client.Signal(SIGKILL);
    const std::optional<int> status = client.Wait(10s);
    EXPECT_TRUE(status.has_value());
  };
  // The server's connections finish as soon as it notices the kills, and give their memory
  // back once the server has reaped them: polled, bounded.
  const auto settled = [&](long threads, long rss_kib) {
    const Clock::time_point until = Clock::now() + 10s;
    for (;;) {
      const ProcessUsage now = UsageOf(server->pid());
      const bool rss_settled = testing::kSanitized || now.rss_kib <= rss_kib;
      if ((now.threads <= threads && rss_settled) || Clock::now() >= until) return now;
      std::this_thread::sleep_for(10ms);
    }
  };
  // Warm up: pools and allocator arenas reach their working size.
  const ProcessUsage idle = UsageOf(server->pid());
  for (int i = 0; i < 5; ++i) kill_one();
  const ProcessUsage before = settled(idle.threads, LONG_MAX);
  const long rss_bound = before.rss_kib + before.rss_kib / 10 + 2048;
  for (int i = 0; i < kills; ++i) kill_one();
  const ProcessUsage after = settled(before.threads, rss_bound);
  unsetenv(kClientEndpointVariable);
  std::cout << "mq server after " << kills << " killed clients: threads " << before.threads
            << " -> " << after.threads << ", RSS " << before.rss_kib << " KiB -> "
            << after.rss_kib << " KiB (idle: " << idle.threads << " threads, " << idle.rss_kib
            << " KiB)" << std::endl;
  EXPECT_LE(after.threads, before.threads);
  // Sanitizers' shadow memory and quarantine make RSS meaningless there.
  if (!testing::kSanitized) {
    EXPECT_LE(after.rss_kib, rss_bound);
  }

  {  // And it still serves.
    Result<Channel> channel = Connect(endpoint);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    EXPECT_TRUE(client.Add(1, 1).ok());
  }
  StopServer(*server);
  EXPECT_TRUE(testing::FerryFilesInDevShm({server->pid()}).empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

}  // namespace
}  // namespace ferry
