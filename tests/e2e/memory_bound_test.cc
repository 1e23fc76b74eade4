// Bounded memory on unix:// and tcp://: peers that hold large frames half-sent cannot push a
// server past its memory budget, and what they cost is given back when they go; peers that
// trickle bytes or sit idle are cut off by the frame and idle timeouts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "call/call_frame.h"
#include "call/handshake.h"
#include "os/unix_socket.h"
#include "ferry/ferry.h"
#include "support/process.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
namespace ft = ferry::test;
using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1024 * 1024;

// Under ASan or TSan the server's RSS is mostly the sanitizer's shadow memory, which does not
// follow the program's own: the flow is checked there, the memory bounds only without.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// VmRSS of process `pid` in bytes (0 if it cannot be read).
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// A raw connection to a unix:///path or tcp://127.0.0.1:port endpoint; invalid on failure.
internal::Fd ConnectRaw(const std::string& endpoint) {
  if (endpoint.rfind("unix://", 0) == 0) {
    internal::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, endpoint.c_str() + 7, sizeof(address.sun_path) - 1);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return internal::Fd();
    }
    return fd;
  }
  internal::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port =
      htons(static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1))));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return internal::Fd();
  }
  return fd;
}

// Connects and does the socket handshake as a client that stays on the socket.
internal::Fd HandshakenPeer(const std::string& endpoint) {
  internal::Fd fd = ConnectRaw(endpoint);
  if (!fd.valid()) return fd;
  if (!internal::SendHello(fd.get()).ok() ||
      !internal::ReceiveSocketWelcome(fd.get(), Clock::now() + 10s).ok()) {
    return internal::Fd();
  }
  return fd;
}

bool SendAll(int fd, const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = send(fd, bytes, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool SendLength(int fd, uint32_t n) {
  const uint8_t length[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  return SendAll(fd, length, sizeof(length));
}

// True when the server closes `fd` within `timeout` (whatever it sent first is skipped).
bool ClosedByServer(int fd, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
    uint8_t byte[256];
    if (recv(fd, byte, sizeof(byte), 0) <= 0) return true;
  }
}

class MemoryBound : public ::testing::TestWithParam<std::string> {};

// The bar of issue 10: 40 peers each holding a 32 MiB frame half-sent.
TEST_P(MemoryBound, PeersHoldingLargeFramesHalfSentStayWithinTheBudgetAndLeaveNothingBehind) {
  testing::ScopedRuntimeDir dir;
  const std::string listen =
      GetParam() == "unix" ? "unix://" + dir.path() + "/memory.sock" : "tcp://127.0.0.1:0";
  // The documented default budget (ServerOptions::memory_budget_bytes).
  const uint64_t budget = ServerOptions().memory_budget_bytes;
  testing::ChildProcess server =
      testing::ChildProcess::Exec({testing::HelperPath("ferry_test_server"), "--no-shm", listen});
  std::optional<std::string> ready = server.ReadLine(30s);
  ASSERT_TRUE(ready && ready->rfind("ready ", 0) == 0);
  const std::string endpoint = ready->substr(6);

  ConnectOptions options;
  options.allow_shm = false;
  Result<Channel> channel = Connect(endpoint, options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  ASSERT_TRUE(client.Add(1, 2).ok());
  const uint64_t before = ResidentBytes(server.pid());

  constexpr int kPeers = 40;
  constexpr uint32_t kFrame = 32 * kMiB;
  const std::vector<uint8_t> half(kFrame / 2, 0x5a);
  std::vector<internal::Fd> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back(HandshakenPeer(endpoint));
    ASSERT_TRUE(peers.back().valid()) << "peer " << i;
    ASSERT_TRUE(SendLength(peers.back().get(), kFrame));
  }
  std::atomic<int> sent_half{0};
  std::vector<std::thread> senders;
  for (internal::Fd& peer : peers) {
    const int fd = peer.get();
    senders.emplace_back([&, fd] {
      if (SendAll(fd, half.data(), half.size())) sent_half.fetch_add(1);
    });
  }
  // The server reads as many frames as 7/8 of its budget holds; the other peers' sends block.
  const int admitted = static_cast<int>((budget - budget / 8) / kFrame);
  const Clock::time_point until = Clock::now() + 60s;
  while (sent_half.load() < admitted && Clock::now() < until) std::this_thread::yield();
  EXPECT_EQ(sent_half.load(), admitted);
  uint64_t peak = ResidentBytes(server.pid());
  // Meanwhile an ordinary call still goes through (memory is kept for small frames).
  const Clock::time_point call_start = Clock::now();
  auto sum = client.Add(2, 3, {.deadline = 10s});
  const auto call_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - call_start).count();
  EXPECT_TRUE(sum.ok()) << sum.status();
  peak = std::max(peak, ResidentBytes(server.pid()));
  EXPECT_LE(sent_half.load(), admitted + 1);  // the rest are held back
  if (!kSanitized) {
    EXPECT_LT(peak, before + budget + 16 * kMiB);
  }

  for (internal::Fd& peer : peers) shutdown(peer.get(), SHUT_RDWR);
  for (std::thread& sender : senders) sender.join();
  peers.clear();
  // Everything the peers cost comes back: their connections end and their buffers are unmapped.
  uint64_t after = 0;
  uint32_t connections = 0;
  const Clock::time_point settle = Clock::now() + 30s;
  for (;;) {
    auto stats = client.GetStats();
    connections = stats.ok() ? (*stats)->connections() : 0;
    after = ResidentBytes(server.pid());
    const bool settled = kSanitized || after <= before + 10 * kMiB;
    if ((connections == 1 && settled) || Clock::now() > settle) break;
    std::this_thread::yield();
  }
  std::cout << GetParam() << ": server RSS before " << before / 1024 << " KiB, with " << kPeers
            << " peers holding 32 MiB frames half-sent " << peak / 1024 << " KiB (budget "
            << budget / 1024 << " KiB, " << sent_half.load() << " frames read), after "
            << after / 1024 << " KiB; a small call meanwhile took " << call_ms << " ms\n";
  EXPECT_EQ(connections, 1U);
  if (!kSanitized) {
    EXPECT_LE(after, before + 10 * kMiB);
  }

  server.Signal(SIGTERM);
  std::optional<int> status = server.Wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testing::DescribeWaitStatus(*status);
}

INSTANTIATE_TEST_SUITE_P(Sockets, MemoryBound, ::testing::Values("unix", "tcp"),
                         [](const auto& info) { return info.param; });

class AddService final : public ft::TestService::Service {
  Status Add(CallContext&, const ft::AddRequest& request, Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return Status::Ok();
  }
};

// A server in this process on tcp:// with short timeouts.
class Timeouts : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    server_ = std::make_unique<Server>(options);
    ASSERT_TRUE(server_->Add(std::make_shared<AddService>()).ok());
    ASSERT_TRUE(server_->Listen("tcp://127.0.0.1:0").ok());
    endpoint_ = server_->endpoints().front();
    ::testing::internal::CaptureStderr();
  }
  void TearDown() override {
    if (!server_) return;
    // Whatever the peers did, a good client is served.
    ConnectOptions options;
    options.allow_shm = false;
    Result<Channel> channel = Connect(endpoint_, options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    auto sum = client.Add(40, 2);
    ASSERT_TRUE(sum.ok()) << sum.status();
    server_.reset();
    log_ = ::testing::internal::GetCapturedStderr();
  }

  testing::ScopedRuntimeDir dir_;
  std::unique_ptr<Server> server_;
  std::string endpoint_;
  std::string log_;
};

TEST_F(Timeouts, APeerThatDripsAFrameAByteAtATimeIsClosed) {
  ServerOptions options;
  options.frame_timeout = 300ms;
  Start(options);
  internal::Fd peer = HandshakenPeer(endpoint_);
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(SendLength(peer.get(), 100));
  // One byte every 50 ms: 100 bytes would take 5 s.
  const Clock::time_point start = Clock::now();
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!SendAll(peer.get(), "x", 1)) break;
    closed = ClosedByServer(peer.get(), 50ms);
  }
  if (!closed) closed = ClosedByServer(peer.get(), 5s);
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST_F(Timeouts, AnIdleConnectionIsClosedOnlyWhenIdleTimeoutIsSet) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  Start(options);
  internal::Fd idle = HandshakenPeer(endpoint_);
  ASSERT_TRUE(idle.valid());
  const Clock::time_point start = Clock::now();
  EXPECT_TRUE(ClosedByServer(idle.get(), 10s));
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST_F(Timeouts, ByDefaultAnIdleConnectionStaysAndAFrameHasSecondsToArrive) {
  ServerOptions options;
  EXPECT_EQ(options.idle_timeout.count(), 0);
  EXPECT_GE(options.frame_timeout, 10s);
  Start(options);
  internal::Fd idle = HandshakenPeer(endpoint_);
  ASSERT_TRUE(idle.valid());
  ASSERT_TRUE(SendLength(idle.get(), 100));
  EXPECT_FALSE(ClosedByServer(idle.get(), 500ms));
}

TEST_F(Timeouts, ARequestLargerThanTheBudgetIsRefusedAndTheLimitIsAnnounced) {
  ServerOptions options;
  options.memory_budget_bytes = 8 * kMiB;  // 7 MiB for large frames
  Start(options);
  internal::Fd peer = ConnectRaw(endpoint_);
  ASSERT_TRUE(internal::SendHello(peer.get()).ok());
  Result<internal::SocketWelcomeInfo> welcome =
      internal::ReceiveSocketWelcome(peer.get(), Clock::now() + 10s);
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_EQ(welcome->max_message_bytes, 7 * kMiB - internal::kMaxFrameOverhead);
  ASSERT_TRUE(SendLength(peer.get(), 7 * kMiB + 1));
  EXPECT_TRUE(ClosedByServer(peer.get(), 10s));
}

}  // namespace
}  // namespace ferry
