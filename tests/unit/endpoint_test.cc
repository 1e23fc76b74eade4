#include "core/endpoint.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ferry::internal
