// The rendezvous socket's system calls, kept in one place.
#include "core/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::internal {
namespace {

Status Errno(StatusCode code, const std::string& what) {
  return Status(code, what + ": " + std::strerror(errno));
}

sockaddr_un Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

// Waits until `fd` is readable or `deadline` passes.
Status WaitReadable(int fd, Deadline deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::DeadlineExceeded("peer did not answer in time");
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return Errno(StatusCode::kUnavailable, "poll");
  }
}

Status ReadExactly(int fd, uint8_t* out, size_t size, Deadline deadline) {
  while (size > 0) {
    if (Status s = WaitReadable(fd, deadline); !s.ok()) return s;
    const ssize_t n = recv(fd, out, size, 0);
    if (n == 0) return Status::Unavailable("peer closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Errno(StatusCode::kUnavailable, "recv");
    }
    out += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void Fd::Reset() {
  if (fd_ >= 0) close(std::exchange(fd_, -1));
}

Result<Fd> ConnectUnix(const std::string& path) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Errno(StatusCode::kUnavailable, "socket");
  const sockaddr_un addr = Address(path);
  for (;;) {
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      return fd;
    }
    if (errno != EINTR) break;
  }
  return Errno(StatusCode::kUnavailable, "no server listening at " + path);
}

Result<Fd> ListenUnix(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    if (ConnectUnix(path).ok()) {
      return Status::AlreadyExists("a server is already listening at " + path);
    }
    unlink(path.c_str());  // stale: its server died without removing it
  }
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Errno(StatusCode::kUnavailable, "socket");
  const sockaddr_un addr = Address(path);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EADDRINUSE) return Status::AlreadyExists("another server bound " + path);
    return Errno(StatusCode::kUnavailable, "bind " + path);
  }
  chmod(path.c_str(), 0600);
  if (listen(fd.get(), 128) != 0) return Errno(StatusCode::kUnavailable, "listen " + path);
  return fd;
}

Status SendFrame(int fd, std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > kMaxFrameBytes) {
    return Status::Internal("handshake frame of " + std::to_string(bytes.size()) + " bytes");
  }
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  const uint8_t length[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  iovec parts[2] = {{const_cast<uint8_t*>(length), 4},
                    {const_cast<uint8_t*>(bytes.data()), bytes.size()}};
  msghdr msg{};
  msg.msg_iov = parts;
  msg.msg_iovlen = 2;
  size_t left = 4 + bytes.size();
  while (left > 0) {
    const ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Errno(StatusCode::kUnavailable, "send");
    }
    left -= static_cast<size_t>(sent);
    // Advance the iovecs past what went out (frames are tiny; this rarely loops).
    size_t skip = static_cast<size_t>(sent);
    while (msg.msg_iovlen > 0 && skip >= msg.msg_iov->iov_len) {
      skip -= msg.msg_iov->iov_len;
      ++msg.msg_iov;
      --msg.msg_iovlen;
    }
    if (msg.msg_iovlen > 0) {
      msg.msg_iov->iov_base = static_cast<uint8_t*>(msg.msg_iov->iov_base) + skip;
      msg.msg_iov->iov_len -= skip;
    }
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> ReceiveFrame(int fd, Deadline deadline) {
  uint8_t length[4];
  if (Status s = ReadExactly(fd, length, 4, deadline); !s.ok()) return s;
  const uint32_t n = uint32_t{length[0]} | uint32_t{length[1]} << 8 | uint32_t{length[2]} << 16 |
                     uint32_t{length[3]} << 24;
  if (n == 0 || n > kMaxFrameBytes) {
    return Status::DataLoss("handshake frame of " + std::to_string(n) + " bytes");
  }
  std::vector<uint8_t> frame(n);
  if (Status s = ReadExactly(fd, frame.data(), n, deadline); !s.ok()) return s;
  return frame;
}

Result<uid_t> PeerUid(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Errno(StatusCode::kUnavailable, "SO_PEERCRED");
  }
  return cred.uid;
}

}  // namespace ferry::internal
