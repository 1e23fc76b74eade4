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
#include "ferry/protocol_generated.h"
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

// A raw Unix-socket connection to an endpoint's rendezvous socket, speaking no protocol;
// -1 on failure.
int ConnectRaw(const std::string& socket_path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

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
  EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

TEST(ServerLimits, PeerThatConnectsAndSaysNothingIsDroppedAfterTheHandshakeTimeout) {
  testing::ScopedRuntimeDir dir;
  ServerOptions options;
  options.handshake_timeout = 100ms;
  Server server(options);
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://silent").ok());

  const int silent = ConnectRaw(dir.path() + "/silent.sock");
  ASSERT_GE(silent, 0);
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
  const int peer = ConnectRaw(dir.path() + "/garbage.sock");
  ASSERT_GE(peer, 0);
  const char junk[] = "\x10\x00\x00\x00GET / HTTP/1.1\r\n";
  ASSERT_GT(send(peer, junk, sizeof(junk) - 1, MSG_NOSIGNAL), 0);
  char byte;
  EXPECT_EQ(recv(peer, &byte, 1, 0), 0);
  close(peer);
  EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
}

TEST(ServerLimits, HandshakeFrameWithoutABodyIsRefusedWithoutHarm) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://bodiless").ok());
  // A union type with no value passes the FlatBuffers verifier.
  flatbuffers::FlatBufferBuilder fbb;
  ferry::protocol::HandshakeFrameBuilder frame(fbb);
  frame.add_body_type(ferry::protocol::HandshakeBody::Hello);
  fbb.Finish(frame.Finish());
  const uint32_t size = fbb.GetSize();
  std::string bytes(reinterpret_cast<const char*>(&size), 4);
  bytes.append(reinterpret_cast<const char*>(fbb.GetBufferPointer()), size);

  const int peer = ConnectRaw(dir.path() + "/bodiless.sock");
  ASSERT_GE(peer, 0);
  ASSERT_EQ(send(peer, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  char byte;
  EXPECT_EQ(recv(peer, &byte, 1, 0), 0);
  close(peer);
  Result<Channel> channel = Connect("shm://bodiless");  // still alive and serving
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  EXPECT_TRUE(client.Add(1, 1).ok());
}

TEST(ServerLimits, UnusableShmOptionsFailListen) {
  testing::ScopedRuntimeDir dir;
  ServerOptions options;
  options.shm.slot_classes = {{100, 1}};  // not a multiple of 64
  Server server(options);
  EXPECT_EQ(server.Listen("shm://bad-options").code(), StatusCode::kInvalidArgument);
}

class ShutdownHandler final : public ft::TestService::Service {
 public:
  explicit ShutdownHandler(Server& server) : server_(server) {}
  Status Add(CallContext&, const ft::AddRequest&, Reply<ft::AddReply>& reply) override {
    server_.Shutdown();  // must not deadlock on its own thread
    reply.Finish(ft::CreateAddReply(reply.fbb(), 0));
    return Status::Ok();
  }

 private:
  Server& server_;
};

TEST(ServerLimits, ShutdownFromAHandlerStopsTheServer) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<ShutdownHandler>(server)).ok());
  ASSERT_TRUE(server.Listen("shm://self-stop").ok());
  Result<Channel> channel = Connect("shm://self-stop");
  ASSERT_TRUE(channel.ok());
  ft::TestService::Client client(*channel);
  (void)client.Add(1, 1);  // OK or UNAVAILABLE, depending on who wins; what matters is below
  server.Run();            // returns: the shutdown completed
  EXPECT_TRUE(testing::FilesIn(dir.path()).empty());
}

TEST(Deadlines, HugeDeadlineMeansEffectivelyNoneAndNegativeHasAlreadyPassed) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://deadlines").ok());
  ConnectOptions connect_options;
  connect_options.connect_timeout = std::chrono::milliseconds::max();
  Result<Channel> channel = Connect("shm://deadlines", connect_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client client(*channel);
  auto far = client.Add(1, 2, {.deadline = std::chrono::nanoseconds::max()});
  ASSERT_TRUE(far.ok()) << far.status();
  EXPECT_EQ((*far)->sum(), 3);
  EXPECT_EQ(client.Add(1, 2, {.deadline = -1s}).status().code(), StatusCode::kDeadlineExceeded);
}

TEST(RequestBuilder, ReassigningABuilderReleasesTheOldOneSafely) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Listen("shm://reassign").ok());
  Result<Channel> channel = Connect("shm://reassign");
  ASSERT_TRUE(channel.ok());
  ft::TestService::Client client(*channel);
  auto request = client.NewAddRequest();
  request.Finish(ft::CreateAddRequest(request.fbb(), 1, 1));
  request = client.NewAddRequest();  // the first one is dropped unsent
  request.Finish(ft::CreateAddRequest(request.fbb(), 20, 22));
  auto sum = client.Add(std::move(request));
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 42);
}

class PingService final : public ft::Unserved::Service {
  Status Ping(CallContext&, const ft::Empty&, Reply<ft::Empty>& reply) override {
    reply.Finish(ft::CreateEmpty(reply.fbb()));
    return Status::Ok();
  }
};

TEST(Services, OneServerServesSeveralServicesOverOneChannel) {
  testing::ScopedRuntimeDir dir;
  Server server;
  ASSERT_TRUE(server.Add(std::make_shared<MinimalService>()).ok());
  ASSERT_TRUE(server.Add(std::make_shared<PingService>()).ok());
  ASSERT_TRUE(server.Listen("shm://two-services").ok());
  Result<Channel> channel = Connect("shm://two-services");
  ASSERT_TRUE(channel.ok()) << channel.status();
  ft::TestService::Client test(*channel);
  ft::Unserved::Client ping(*channel);
  auto sum = test.Add(40, 2);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->sum(), 42);
  EXPECT_TRUE(ping.Ping().ok());
  // A method the implementation does not override answers UNIMPLEMENTED, naming itself.
  auto generated = test.Generate(1, 1);
  EXPECT_EQ(generated.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(generated.status().message().find("ferry.test.TestService.Generate"),
            std::string::npos)
      << generated.status();
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
