// Server bounds and misbehaving peers, with the server in this process (the behaviour under
// test is the server's own bookkeeping; cross-process calls are covered by e2e_test.cc).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "ferry/ferry.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
namespace ft = ferry::test;

class MinimalService final : public ft::TestService::Service {
  Status Add(CallContext&, const ft::AddRequest& request, Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return Status::Ok();
  }
};

// Waits (bounded) until `done` holds; for server-side effects with nothing to block on.
template <class Done>
bool Eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ServerLimits, ClientsPastMaxConnectionsAreRefusedWithResourceExhausted) {
  testing::ScopedRuntimeDir dir;
  ServerOptions options;
  options.max_connections = 1;
  Server server(options);
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://limits").ok());
  Result<Channel> first = Connect("shm://limits");
  ASSERT_TRUE(first.ok()) << first.status();
  Result<Channel> second = Connect("shm://limits");
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted) << second.status();
  ft::TestService::Client client(*first);
  EXPECT_TRUE(client.Add(1, 2).ok());
  server.Shutdown();
  EXPECT_TRUE(testing::ShmSegmentsOf(getpid()).empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

TEST(ServerLimits, PeerThatConnectsAndSaysNothingIsDroppedAfterTheHandshakeTimeout) {
  testing::ScopedRuntimeDir dir;
  ServerOptions options;
  options.handshake_timeout = 100ms;
  Server server(options);
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://silent").ok());

  const int silent = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir.path() + "/silent.sock";
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // The server closes its end: our read sees end-of-file instead of blocking forever.
  char byte;
  EXPECT_EQ(recv(silent, &byte, 1, 0), 0);
  close(silent);
  EXPECT_TRUE(Eventually([&] { return server.connection_count() == 0; }));

  Result<Channel> channel = Connect("shm://silent");  // others are still served
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  EXPECT_TRUE(client.Add(2, 2).ok());
}

TEST(ServerLimits, PeerThatSendsGarbageIsDisconnected) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://garbage").ok());
  const int peer = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir.path() + "/garbage.sock";
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(peer, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char junk[] = "\x10\x00\x00\x00GET / HTTP/1.1\r\n";
  ASSERT_GT(send(peer, junk, sizeof(junk) - 1, MSG_NOSIGNAL), 0);
  char byte;
  EXPECT_EQ(recv(peer, &byte, 1, 0), 0);
  close(peer);
  EXPECT_TRUE(testing::ShmSegmentsOf(getpid()).empty());
}

TEST(ServerLimits, AddingAServiceAfterListenIsAFailedPrecondition) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Listen("shm://late").ok());
  EXPECT_EQ(server.Add(std::make_shared<MinimalService>()).code(),
            StatusCode::kFailedPrecondition);
}

TEST(ServerLimits, TheSameServiceTwiceIsAlreadyExists) {
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  EXPECT_EQ(server.Add(std::make_shared<MinimalService>()).code(), StatusCode::kAlreadyExists);
}

TEST(ServerLimits, ShutdownFailsCallsOnOpenChannelsWithUnavailable) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://closing").ok());
  Result<Channel> channel = Connect("shm://closing");
  ASSERT_TRUE(channel.ok());
  ft::TestService::Client client(*channel);
  ASSERT_TRUE(client.Add(1, 1).ok());
  server.Shutdown();
  EXPECT_EQ(client.Add(1, 1).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

}  // namespace
}  // namespace ferry
