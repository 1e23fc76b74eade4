#include "call/endpoint.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os/unix_socket.h"
#include "support/shm_files.h"

namespace ferry::internal {
namespace {

TEST(Endpoint, TcpWithAnIpv4HostAndPort) {
  Result<Endpoint> e = ParseEndpoint("tcp://127.0.0.1:7000");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->scheme, Scheme::kTcp);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7000);
}

TEST(Endpoint, TcpWithABracketedIpv6HostAndPortZero) {
  Result<Endpoint> e = ParseEndpoint("tcp://[::1]:0");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 0);
}

TEST(Endpoint, MalformedTcpAddressesAreInvalidArgument) {
  for (const char* bad : {"tcp://127.0.0.1", "tcp://:80", "tcp://host:65536", "tcp://host:8x",
                          "tcp://::1:80", "tcp://[::1]80", "tcp://[::1:80"}) {
    EXPECT_EQ(ParseEndpoint(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Endpoint, UnixWantsAnAbsolutePathThatFitsASocketAddress) {
  Result<Endpoint> e = ParseEndpoint("unix:///tmp/x.sock");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->socket_path, "/tmp/x.sock");
  EXPECT_EQ(ParseEndpoint("unix://relative.sock").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEndpoint("unix:///" + std::string(200, 'a')).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Endpoint, ShmAndMqNamesLiveInTheRuntimeDir) {
  ferry::testing::ScopedRuntimeDir dir;
  Result<Endpoint> shm = ParseEndpoint("shm://calc");
  Result<Endpoint> mq = ParseEndpoint("mq://calc");
  ASSERT_TRUE(shm.ok() && mq.ok());
  EXPECT_EQ(shm->socket_path, dir.path() + "/calc.sock");
  EXPECT_EQ(mq->socket_path, dir.path() + "/calc.mq.sock");
  EXPECT_EQ(ParseEndpoint("mq://../x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEndpoint("pigeon://x").status().code(), StatusCode::kInvalidArgument);
}

TEST(PeerCredentials, UnixPeersHaveAUidAndTcpPeersNone) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  Fd a(pair[0]), b(pair[1]);
  EXPECT_EQ(LocalPeerUid(a.get()), std::optional<uid_t>(geteuid()));

  // SO_PEERCRED "succeeds" on TCP with the overflow uid: it must not be taken for a peer's.
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  socklen_t size = sizeof(addr);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &size), 0);
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Fd accepted(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  EXPECT_EQ(LocalPeerUid(accepted.get()), std::nullopt);
}

}  // namespace
}  // namespace ferry::internal
