#include "raw_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_support.h"
#include "measure.h"

namespace ferry_bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint32_t kStop = UINT32_MAX;
constexpr size_t kMaxPayload = 16u << 20;
constexpr uint8_t kPeerPinned = 1, kPeerPinFailed = 2;

// Closes a descriptor on every path.
struct OwnedFd {
  int fd = -1;
  ~OwnedFd() {
    if (fd >= 0) close(fd);
  }
};

bool WriteAll(int fd, iovec* parts, int count) {
  while (count > 0) {
    ssize_t n = writev(fd, parts, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    while (count > 0 && static_cast<size_t>(n) >= parts->iov_len) {
      n -= static_cast<ssize_t>(parts->iov_len);
      ++parts;
      --count;
    }
    if (count > 0) {
      parts->iov_base = static_cast<uint8_t*>(parts->iov_base) + n;
      parts->iov_len -= static_cast<size_t>(n);
    }
  }
  return true;
}

void NoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// The peer, in the forked child (system calls only): reads each request into `buffer` and
// answers with 8 bytes whose first is the payload's last byte.
int PeerLoop(int fd, uint8_t* buffer, int cpu) {
  const uint8_t state = TryPinToCpu(cpu) ? kPeerPinned : kPeerPinFailed;
  iovec hello{const_cast<uint8_t*>(&state), 1};
  if (!WriteAll(fd, &hello, 1) || state != kPeerPinned) return 3;
  for (;;) {
    uint32_t size;
    if (!ReadFull(fd, &size, sizeof(size))) return 4;
    if (size == kStop) return 0;
    if (size > kMaxPayload || !ReadFull(fd, buffer, size)) return 5;
    uint8_t reply[8] = {size == 0 ? uint8_t{0} : buffer[size - 1]};
    iovec part{reply, sizeof(reply)};
    if (!WriteAll(fd, &part, 1)) return 6;
  }
}

}  // namespace

const char* RawSocketName(RawSocketKind kind) {
  return kind == RawSocketKind::kUds ? "raw_uds" : "raw_tcp";
}

void RunRawSocketCases(RawSocketKind kind, const std::string& placement, int peer_cpu,
                       double scale, const std::function<void(const CaseResult&)>& report) {
  const std::string name = RawSocketName(kind);
  // Both buffers exist before the fork: the child must not allocate.
  std::unique_ptr<uint8_t[]> peer_buffer(new uint8_t[kMaxPayload]);
  std::unique_ptr<uint8_t[]> payload(new uint8_t[kMaxPayload]);
  OwnedFd client, server, listener;
  if (kind == RawSocketKind::kUds) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      throw BenchError("socketpair: " + std::string(std::strerror(errno)));
    }
    client.fd = pair[0];
    server.fd = pair[1];
  } else {
    listener.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener.fd < 0 || bind(listener.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listener.fd, 1) != 0 ||
        getsockname(listener.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw BenchError("raw_tcp listen: " + std::string(std::strerror(errno)));
    }
    client.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client.fd < 0 ||
        connect(client.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      throw BenchError("raw_tcp connect: " + std::string(std::strerror(errno)));
    }
    server.fd = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (server.fd < 0) throw BenchError("raw_tcp accept: " + std::string(std::strerror(errno)));
    NoDelay(client.fd);
    NoDelay(server.fd);
  }
  ChildProcess peer = ChildProcess::Fork(
      [fd = server.fd, buffer = peer_buffer.get(), peer_cpu] { return PeerLoop(fd, buffer, peer_cpu); });
  uint8_t state = 0;
  if (!ReadFull(client.fd, &state, 1) || state != kPeerPinned) {
    throw BenchError(name + " peer could not pin itself to CPU " + std::to_string(peer_cpu));
  }

  uint64_t sequence = 0;
  for (const size_t size : kPayloadSizes) {
    auto one_call = [&](uint64_t) -> int64_t {
      const uint8_t byte = FillByte(++sequence);
      std::memset(payload.get(), byte, size);  // untimed, as the other cases
      uint32_t length = static_cast<uint32_t>(size);
      iovec parts[2] = {{&length, sizeof(length)}, {payload.get(), size}};
      uint8_t reply[8];
      const Clock::time_point t0 = Clock::now();
      if (!WriteAll(client.fd, parts, 2) || !ReadFull(client.fd, reply, sizeof(reply))) {
        throw BenchError(name + " peer went away");
      }
      const Clock::time_point t1 = Clock::now();
      if (reply[0] != byte) {
        throw BenchError(name + " peer read byte " + std::to_string(reply[0]) + ", expected " +
                         std::to_string(byte));
      }
      return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    };
    const Plan plan = PlanFor(size, scale);
    RunCalls(plan.warmup_calls, plan.warmup_budget, one_call);
    std::vector<int64_t> times = RunCalls(plan.calls, plan.budget, one_call);
    // Each call moves the payload and the reply through the kernel: copied in on one side and
    // out on the other, counted as ferry counts its socket transports.
    const uint64_t copied = 2 * (size + 8) * times.size();
    report(Summarize(name, placement, size, times, copied));
  }

  uint32_t stop = kStop;
  iovec part{&stop, sizeof(stop)};
  (void)WriteAll(client.fd, &part, 1);
  const std::optional<int> status = peer.Wait(10s);
  if (!status) throw BenchError(name + " peer did not stop");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw BenchError(name + " peer " + DescribeWaitStatus(*status));
  }
}

}  // namespace ferry_bench
