// Length-prefixed frames over a stream socket, with Boost.Asio's synchronous operations.
#include "socket/socket_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <vector>

namespace ferry::internal {
namespace asio = boost::asio;
namespace {

// Asio's transfer_all moves at most 64 KiB per system call; a 16 MiB frame would cost 256
// writes and as many wake-ups of the reader. Let the kernel take as much as it will.
std::size_t AllAtOnce(const boost::system::error_code& error, std::size_t) {
  return error ? 0 : std::numeric_limits<std::size_t>::max();
}

}  // namespace

Result<std::unique_ptr<SocketLink>> SocketLink::Adopt(Fd socket, uint64_t max_frame_bytes) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Status::Unavailable(std::string("getsockname: ") + std::strerror(errno));
  }
  const int family = address.ss_family;
  const bool tcp = family == AF_INET || family == AF_INET6;
  if (tcp) {
    const int one = 1;  // calls are small frames answered at once: no Nagle delay
    setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  try {
    return std::unique_ptr<SocketLink>(new SocketLink(
        asio::generic::stream_protocol(family, tcp ? IPPROTO_TCP : 0), std::move(socket), tcp,
        max_frame_bytes));
  } catch (const boost::system::system_error& e) {
    return Status::Unavailable(std::string("cannot adopt the socket: ") + e.what());
  }
}

SocketLink::SocketLink(asio::generic::stream_protocol protocol, Fd socket, bool tcp,
                       uint64_t max_frame_bytes)
    : socket_(io_, protocol, socket.get()),
      tcp_(tcp),
      max_frame_bytes_(max_frame_bytes),
      pool_(BufferPool::Create()) {
  socket.Release();  // owned by socket_ now
}

SocketLink::~SocketLink() { Shutdown(); }

Status SocketLink::Send(std::span<const Part> parts) {
  uint64_t total = 0;
  for (const Part& part : parts) total += part.size();
  if (total > UINT32_MAX) return Status::ResourceExhausted("frame over 4 GiB");
  const uint32_t n = static_cast<uint32_t>(total);
  const uint8_t length[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(parts.size() + 1);
  buffers.emplace_back(length, sizeof(length));
  for (const Part& part : parts) {
    if (!part.empty()) buffers.emplace_back(part.data(), part.size());
  }
  boost::system::error_code error;
  {
    std::lock_guard lock(send_mutex_);
    if (shut_down_.load(std::memory_order_acquire)) return Status::Unavailable("link shut down");
    asio::write(socket_, buffers, &AllAtOnce, error);
  }
  if (error) return Status::Unavailable("send: " + error.message());
  bytes_copied_.fetch_add(sizeof(length) + total, std::memory_order_relaxed);
  return Status::Ok();
}

Result<PooledBuffer> SocketLink::Receive(std::chrono::steady_clock::time_point deadline) {
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status::DeadlineExceeded("no frame before the deadline");
      pollfd p{socket_.native_handle(), POLLIN, 0};
      const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
      if (n > 0) break;
      if (n < 0 && errno != EINTR) return Status::Unavailable("poll: " + std::string(std::strerror(errno)));
    }
  }
  uint8_t length[4];
  boost::system::error_code error;
  const size_t got = asio::read(socket_, asio::buffer(length), &AllAtOnce, error);
  if (error) {
    if (got == 0) return Status::Unavailable("peer closed the connection");
    return Status::DataLoss("truncated frame length (" + error.message() + ")");
  }
  const uint32_t n = static_cast<uint32_t>(length[0]) | static_cast<uint32_t>(length[1]) << 8 |
                     static_cast<uint32_t>(length[2]) << 16 |
                     static_cast<uint32_t>(length[3]) << 24;
  if (n == 0 || n > max_frame_bytes_) {
    return Status::DataLoss("frame of " + std::to_string(n) + " bytes (the limit is " +
                            std::to_string(max_frame_bytes_) + ")");
  }
  PooledBuffer frame = pool_->Take(n);
  const size_t read = asio::read(socket_, asio::buffer(frame.data(), n), &AllAtOnce, error);
  if (error) {
    return Status::DataLoss("truncated frame: " + std::to_string(read) + " of " +
                            std::to_string(n) + " bytes (" + error.message() + ")");
  }
  bytes_copied_.fetch_add(sizeof(length) + n, std::memory_order_relaxed);
  return frame;
}

void SocketLink::Shutdown() {
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  // The native call, not socket_.shutdown(): another thread may be inside a read on socket_.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
}

}  // namespace ferry::internal
