// The move from a socket to shared memory: a client that reaches a server on its own host
// (same boot id and network namespace, same user) over unix:// or tcp:// ends up on shared
// memory unless either side turns that off; a client in another network namespace (another
// "host" as far as ferry can tell) stays on TCP. Real server and client processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ferry/ferry.h"
#include "shm/shm_link.h"
#include "support/process.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

namespace ft = ferry::test;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HelperPath;

// A ferry_test_server child and the endpoint it reports; stopped with SIGTERM and checked.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    args.insert(args.begin(), HelperPath("ferry_test_server"));
    process_ = std::make_unique<ChildProcess>(ChildProcess::Exec(args));
    std::optional<std::string> line = process_->ReadLine(10s);
    if (line && line->rfind("ready ", 0) == 0) endpoint_ = line->substr(6);
  }
  ~ServerProcess() {
    process_->Signal(SIGTERM);
    std::optional<int> status = process_->Wait(10s);
    // A server that could not listen (no IPv6 here, say) exited on its own: the test says so.
    if (!endpoint_.empty()) {
      EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    }
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string endpoint_;
};

// Connects, checks the transport, and makes calls that prove the channel works.
void ExpectCallsOver(const std::string& endpoint, const ConnectOptions& options,
                     std::string_view transport) {
  Result<Channel> channel = Connect(endpoint, options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_EQ(channel->transport(), transport);
  EXPECT_EQ(channel->endpoint(), endpoint);
  ft::TestService::Client client(*channel);
  for (int i = 0; i < 100; ++i) {
    auto sum = client.Add(i, 1);
    ASSERT_TRUE(sum.ok()) << sum.status();
    ASSERT_EQ((*sum)->sum(), i + 1);
  }
  auto blob = client.Generate(1 << 20, 7);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ((*blob)->data()->size(), 1U << 20);
}

class Upgrade : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
    EXPECT_TRUE(testing::FilesIn(dir_.path()).empty());
  }
  testing::ScopedRuntimeDir dir_;
};

TEST_F(Upgrade, TcpConnectionToLoopbackMovesToSharedMemory) {
  ServerProcess server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.endpoint().empty());
  ExpectCallsOver(server.endpoint(), {}, "shm");
}

TEST_F(Upgrade, TcpConnectionOverIpv6LoopbackMovesToSharedMemory) {
  ServerProcess server({"tcp://[::1]:0"});
  if (server.endpoint().empty()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  EXPECT_EQ(server.endpoint().rfind("tcp://[::1]:", 0), 0U) << server.endpoint();
  ExpectCallsOver(server.endpoint(), {}, "shm");
}

TEST_F(Upgrade, UnixSocketConnectionMovesToSharedMemory) {
  ServerProcess server({"unix://" + dir_.path() + "/upgrade.sock"});
  ASSERT_FALSE(server.endpoint().empty());
  ExpectCallsOver(server.endpoint(), {}, "shm");
}

TEST_F(Upgrade, ClientThatDisallowsSharedMemoryStaysOnTcp) {
  ServerProcess server({"tcp://127.0.0.1:0"});
  ConnectOptions options;
  options.allow_shm = false;
  ExpectCallsOver(server.endpoint(), options, "tcp");
}

TEST_F(Upgrade, ServerThatDisallowsSharedMemoryKeepsClientsOnTcp) {
  ServerProcess server({"--no-shm", "tcp://127.0.0.1:0"});
  ExpectCallsOver(server.endpoint(), {}, "tcp");
}

// Runs a command through the shell; true when it exits 0.
bool Run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// A network namespace joined to this one by a veth pair: another host as far as ferry can
// tell (its own network namespace), reachable at peer_address() from here.
class OtherHost {
 public:
  OtherHost() {
    const std::string id = std::to_string(getpid() % 100000);
    name_ = "ferry-t" + id;
    host_if_ = "fy" + id + "a";
    peer_if_ = "fy" + id + "b";
    const std::string subnet = "10.251." + std::to_string(getpid() % 250) + ".";
    host_address_ = subnet + "1";
    ready_ = Run("ip netns add " + name_) &&
             Run("ip link add " + host_if_ + " type veth peer name " + peer_if_) &&
             Run("ip link set " + peer_if_ + " netns " + name_) &&
             Run("ip addr add " + host_address_ + "/30 dev " + host_if_) &&
             Run("ip link set " + host_if_ + " up") &&
             Run("ip netns exec " + name_ + " ip addr add " + subnet + "2/30 dev " + peer_if_) &&
             Run("ip netns exec " + name_ + " ip link set " + peer_if_ + " up") &&
             Run("ip netns exec " + name_ + " ip link set lo up");
  }
  ~OtherHost() {
    Run("ip link del " + host_if_);  // takes its peer along
    Run("ip netns del " + name_);
  }
  bool ready() const { return ready_; }
  const std::string& name() const { return name_; }
  const std::string& host_address() const { return host_address_; }

 private:
  std::string name_, host_if_, peer_if_, host_address_;
  bool ready_ = false;
};

TEST_F(Upgrade, ClientInAnotherNetworkNamespaceStaysOnTcpAndGetsCorrectResults) {
  OtherHost other;
  if (!other.ready()) {
    GTEST_SKIP() << "cannot make a network namespace with a veth pair here (needs root and "
                    "iproute2); the cross-host case is untested on this machine";
  }
  ServerProcess server({"tcp://" + other.host_address() + ":0"});
  ASSERT_FALSE(server.endpoint().empty());
  ChildProcess client = ChildProcess::Exec({"/bin/ip", "netns", "exec", other.name(),
                                            HelperPath("ferry_test_client"), server.endpoint(),
                                            "transport", "500"});
  EXPECT_EQ(client.ReadLine(30s), "tcp");
  std::optional<int> status = client.Wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testing::DescribeWaitStatus(*status);
  // The same server, reached from this namespace, does move to shared memory.
  ExpectCallsOver(server.endpoint(), {}, "shm");
}

TEST(ShmClient, RefusesARendezvousServedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a listener as another user";
  const std::string name = "@ferry-test-squatter-" + std::to_string(getpid());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  // The child only makes system calls (it is forked from a threaded process).
  ChildProcess squatter = ChildProcess::Fork([&name, &ready] {
    if (setgid(65534) != 0 || setuid(65534) != 0) return 3;
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data() + 1, name.size() - 1);
    const socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(fd, 4) != 0) return 4;
    const char byte = 1;
    if (write(ready[1], &byte, 1) != 1) return 5;
    for (;;) pause();  // killed by the test
  });
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the squatter did not start";
  close(ready[0]);
  testing::ScopedRuntimeDir dir;
  Result<std::unique_ptr<internal::MessageLink>> connection = internal::ConnectShmLink(
      name, "tcp://example:1", {}, std::chrono::steady_clock::now() + 5s);
  EXPECT_EQ(connection.status().code(), StatusCode::kPermissionDenied) << connection.status();
  squatter.Signal(SIGKILL);
  EXPECT_TRUE(squatter.Wait(10s).has_value());
}

}  // namespace
}  // namespace ferry
