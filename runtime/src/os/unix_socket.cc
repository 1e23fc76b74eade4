// The rendezvous socket's system calls, kept in one place.
#include "os/unix_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace ferry::internal {
namespace {

// `what` failed with errno: permission and resource errors say so, anything else is `code`.
Status Errno(StatusCode code, const std::string& what) {
  const int error = errno;
  if (error == EACCES || error == EPERM) code = StatusCode::kPermissionDenied;
  if (error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS) {
    code = StatusCode::kResourceExhausted;
  }
  return Status(code, what + ": " + std::strerror(error));
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// What is at a path ferry refuses to touch, for the error message.
std::string Describe(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "a regular file of " + std::to_string(st.st_size) + " bytes";
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISFIFO(st.st_mode)) return "a fifo";
  if (S_ISLNK(st.st_mode)) return "a symbolic link";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  return "a file of unknown type";
}

// A path, or "@name" for a name in the abstract namespace (no file; gone with its socket).
struct UnixAddress {
  sockaddr_un addr{};
  socklen_t size = sizeof(sockaddr_un);
};

UnixAddress Address(const std::string& path) {
  UnixAddress address;
  address.addr.sun_family = AF_UNIX;
  if (!path.empty() && path[0] == '@') {
    const size_t n = std::min(path.size() - 1, sizeof(address.addr.sun_path) - 1);
    std::memcpy(address.addr.sun_path + 1, path.data() + 1, n);
    address.size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  } else {
    std::strncpy(address.addr.sun_path, path.c_str(), sizeof(address.addr.sun_path) - 1);
  }
  return address;
}

// Waits until `fd` is readable or `deadline` passes.
Status WaitReadable(int fd, Deadline deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::DeadlineExceeded("peer did not answer in time");
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, INT_MAX)));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return Errno(StatusCode::kUnavailable, "poll");
  }
}

// Reads exactly `size` bytes. A file descriptor passed along (SCM_RIGHTS) is stored in
// `passed` when that is given and still empty, and closed otherwise.
Status ReadExactly(int fd, uint8_t* out, size_t size, Deadline deadline, Fd* passed) {
  while (size > 0) {
    if (Status s = WaitReadable(fd, deadline); !s.ok()) return s;
    iovec part{out, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &part;
    msg.msg_iovlen = 1;
    if (passed != nullptr) {  // otherwise the kernel discards passed descriptors itself
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
    }
    const ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (passed != nullptr && !passed->valid()) {
          *passed = Fd(received);
        } else {
          close(received);  // unexpected: never keep what we did not ask for
        }
      }
    }
    if (n == 0) return Status::Unavailable("peer closed the connection");
    if (n < 0) return Errno(StatusCode::kUnavailable, "recv");
    out += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void Fd::Reset() {
  if (fd_ >= 0) close(std::exchange(fd_, -1));
}

Result<Fd> ConnectUnix(const std::string& path, Deadline deadline) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Errno(StatusCode::kUnavailable, "socket");
  // connect(2) on a Unix socket blocks while the listener's backlog is full, for at most the
  // socket's send timeout: make that the time left.
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return Status::DeadlineExceeded("no time left to connect to " + path);
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(std::min<int64_t>(left.count() / 1000000, INT_MAX));
  timeout.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  const UnixAddress address = Address(path);
  int result;
  while ((result = connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr),
                           address.size)) != 0 &&
         errno == EINTR) {
  }
  if (result != 0) {
    const int error = errno;
    if (error == EAGAIN || error == EINPROGRESS) {
      return Status::DeadlineExceeded("the server at " + path + " did not accept in time");
    }
    if (error == EACCES || error == EPERM) {
      return Status::PermissionDenied("permission denied connecting to " + path);
    }
    if (error == ENOENT || error == ECONNREFUSED) {
      return Status::Unavailable("no server listening at " + path + ": " + std::strerror(error));
    }
    return Status::Unavailable("cannot connect to " + path + ": " + std::strerror(error));
  }
  const timeval none{};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
  return fd;
}

namespace {

// Opens `lock_path`, creating it when missing (`*created` says so). Anything there already
// must look like a ferry lock file (an empty regular file of this user): a user's file that
// happens to have the name is neither used nor, later, removed.
Result<Fd> OpenLockFile(const std::string& lock_path, bool* created) {
  *created = false;
  for (int attempt = 0; attempt < 10; ++attempt) {
    Fd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (lock.valid()) {
      *created = true;
      return lock;
    }
    if (errno != EEXIST) return Errno(StatusCode::kUnavailable, "create " + lock_path);
    struct stat named {};
    if (lstat(lock_path.c_str(), &named) != 0) {
      if (errno == ENOENT) continue;  // removed meanwhile: create it
      return Errno(StatusCode::kUnavailable, "stat " + lock_path);
    }
    if (!S_ISREG(named.st_mode) || named.st_uid != geteuid() || named.st_size != 0) {
      return Status::FailedPrecondition(
          lock_path + " exists and is " + Describe(named) +
          (S_ISREG(named.st_mode) && named.st_uid != geteuid() ? " of another user" : "") +
          ", not a ferry lock file (an empty file of this user); not touching it");
    }
    lock = Fd(open(lock_path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat held {};
    if (lock.valid() && fstat(lock.get(), &held) == 0 && SameFile(held, named)) return lock;
    if (!lock.valid() && errno != ENOENT && errno != ELOOP) {
      return Errno(StatusCode::kUnavailable, "open " + lock_path);
    }
    // Replaced between the checks: look again.
  }
  return Status::Unavailable("the lock file " + lock_path + " keeps changing");
}

// Whether some process listens on the socket file at `path` (a dead one's file refuses).
enum class Probe { kNobody, kListening, kUnknown };
Probe ProbeSocketFile(const std::string& path, int* error) {
  Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe.valid()) {
    *error = errno;
    return Probe::kUnknown;
  }
  const UnixAddress address = Address(path);
  int result;
  while ((result = connect(probe.get(), reinterpret_cast<const sockaddr*>(&address.addr),
                           address.size)) != 0 &&
         errno == EINTR) {
  }
  *error = result == 0 ? 0 : errno;
  if (result == 0 || *error == EAGAIN || *error == EPROTOTYPE) return Probe::kListening;
  if (*error == ECONNREFUSED) return Probe::kNobody;
  return Probe::kUnknown;
}

// With the name's lock held: clears `path` for bind when it holds nothing or a stale socket;
// refuses (and leaves alone) anything else.
Status ClearSocketPath(const std::string& path) {
  struct stat named {};
  if (lstat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Errno(StatusCode::kUnavailable, "stat " + path);
  }
  if (!S_ISSOCK(named.st_mode)) {
    return Status::FailedPrecondition(path + " exists and is " + Describe(named) +
                                      ", not a stale ferry socket; not replacing it");
  }
  // No ferry server holds the lock, but another program may listen on a socket of its own.
  int error = 0;
  switch (ProbeSocketFile(path, &error)) {
    case Probe::kNobody:
      break;
    case Probe::kListening:
      return Status::AlreadyExists(path + " is a socket another process (not a ferry server) " +
                                   "listens on; not replacing it");
    case Probe::kUnknown:
      errno = error;
      return Errno(StatusCode::kFailedPrecondition,
                   "cannot tell whether the socket " + path + " is stale; not replacing it");
  }
  // Remove only the file probed: if something else took the name meanwhile, bind refuses.
  struct stat again {};
  if (lstat(path.c_str(), &again) == 0 && SameFile(again, named)) unlink(path.c_str());
  return Status::Ok();
}

}  // namespace

Result<NamedSocket> ListenUnix(const std::string& path) {
  // The lock says who owns the name: a live server holds it; a dead one released it with its
  // death, and then any socket file left at `path` is stale.
  const std::string lock_path = path + ".lock";
  Fd lock;
  bool created = false;
  // The file locked must still be the one at lock_path: a server shutting down unlinks it, and
  // a lock on the unlinked file would let a third server lock a new one (two owners).
  struct stat held {};
  for (int attempt = 0;; ++attempt) {
    Result<Fd> opened = OpenLockFile(lock_path, &created);
    if (!opened.ok()) return opened.status();
    lock = std::move(*opened);
    if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Status::AlreadyExists("a server is already listening at " + path);
      }
      return Errno(StatusCode::kUnavailable, "flock " + lock_path);
    }
    struct stat named {};
    if (fstat(lock.get(), &held) == 0 && stat(lock_path.c_str(), &named) == 0 &&
        SameFile(held, named)) {
      break;
    }
    if (attempt == 10) return Status::Unavailable("the lock file " + lock_path + " keeps changing");
  }
  // From here on a failure removes the lock file again if this call made it.
  auto fail = [&](Status status) -> Result<NamedSocket> {
    struct stat named {};
    if (created && stat(lock_path.c_str(), &named) == 0 && SameFile(held, named)) {
      unlink(lock_path.c_str());
    }
    return status;
  };
  if (Status s = ClearSocketPath(path); !s.ok()) return fail(s);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(Errno(StatusCode::kUnavailable, "socket"));
  const UnixAddress address = Address(path);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.size) != 0) {
    if (errno == EADDRINUSE) {
      return fail(Status::AlreadyExists(path + " was taken by another process meanwhile"));
    }
    return fail(Errno(StatusCode::kUnavailable, "bind " + path));
  }
  chmod(path.c_str(), 0600);
  struct stat bound {};
  if (lstat(path.c_str(), &bound) != 0) {
    return fail(Errno(StatusCode::kUnavailable, "stat " + path));
  }
  if (listen(fd.get(), 128) != 0) {
    unlink(path.c_str());
    return fail(Errno(StatusCode::kUnavailable, "listen " + path));
  }
  return NamedSocket{std::move(fd), std::move(lock), path, lock_path, bound, held};
}

Result<Fd> ListenAbstract(const std::string& name) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Errno(StatusCode::kUnavailable, "socket");
  const UnixAddress address = Address(name);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.size) != 0) {
    if (errno == EADDRINUSE) return Status::AlreadyExists("abstract socket " + name + " is taken");
    return Errno(StatusCode::kUnavailable, "bind " + name);
  }
  if (listen(fd.get(), 128) != 0) return Errno(StatusCode::kUnavailable, "listen " + name);
  return fd;
}

void RemoveNamedSocket(NamedSocket& listener) {
  // Only the files this listener made: whatever replaced them since is someone else's.
  struct stat named {};
  if (!listener.path.empty() && lstat(listener.path.c_str(), &named) == 0 &&
      SameFile(named, listener.socket_file)) {
    unlink(listener.path.c_str());
  }
  // Safe while we hold the lock: ListenUnix re-checks what it locked.
  if (!listener.lock_path.empty() && lstat(listener.lock_path.c_str(), &named) == 0 &&
      SameFile(named, listener.lock_file)) {
    unlink(listener.lock_path.c_str());
  }
  listener.fd.Reset();
  listener.lock.Reset();  // releases the name last
}

Status SendFrame(int fd, std::span<const uint8_t> bytes, int pass_fd) {
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
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  size_t left = 4 + bytes.size();
  while (left > 0) {
    const ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Errno(StatusCode::kUnavailable, "send");
    }
    left -= static_cast<size_t>(sent);
    msg.msg_control = nullptr;  // the descriptor went with the first bytes
    msg.msg_controllen = 0;
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

Result<std::vector<uint8_t>> ReceiveFrame(int fd, Deadline deadline, Fd* passed) {
  uint8_t length[4];
  if (Status s = ReadExactly(fd, length, 4, deadline, passed); !s.ok()) return s;
  const uint32_t n = uint32_t{length[0]} | uint32_t{length[1]} << 8 | uint32_t{length[2]} << 16 |
                     uint32_t{length[3]} << 24;
  if (n == 0 || n > kMaxFrameBytes) {
    // Most likely another protocol's banner or request ("SSH-2.0", "HTTP/1.1"): say what came.
    std::string seen;
    for (const uint8_t byte : length) {
      if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '"') {
        seen += static_cast<char>(byte);
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
        seen += escaped;
      }
    }
    return Status::DataLoss("not a ferry peer: it began with \"" + seen +
                            "\", which as a handshake frame's length would be " +
                            std::to_string(n) + " bytes (1 to " + std::to_string(kMaxFrameBytes) +
                            ")");
  }
  std::vector<uint8_t> frame(n);
  if (Status s = ReadExactly(fd, frame.data(), n, deadline, passed); !s.ok()) return s;
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

std::optional<uid_t> LocalPeerUid(int fd) {
  sockaddr_storage local{};
  socklen_t size = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0 ||
      local.ss_family != AF_UNIX) {
    return std::nullopt;
  }
  Result<uid_t> uid = PeerUid(fd);
  if (!uid.ok()) return std::nullopt;
  return *uid;
}

Peer PeerOf(int fd) {
  Peer peer;
  sockaddr_storage local{};
  socklen_t size = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0) return peer;
  if (local.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      peer.pid = cred.pid;
      peer.uid = cred.uid;
      peer.gid = cred.gid;
    }
    return peer;
  }
  sockaddr_storage remote{};
  size = sizeof(remote);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &size) != 0) return peer;
  char host[INET6_ADDRSTRLEN] = {};
  if (remote.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&remote);
    if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)) != nullptr) {
      peer.address = std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
  } else if (remote.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&remote);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) != nullptr) {
      peer.address = "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
  }
  return peer;
}

bool PeerHungUp(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void RingEventFd(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(fd, &one, sizeof(one));
}

void DrainEventFd(int fd) {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd, &count, sizeof(count));
}

bool IsEventFd(int fd) {
  if (fd < 0) return false;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  char target[64];
  const ssize_t n = readlink(path.c_str(), target, sizeof(target));
  return n > 0 && std::string_view(target, static_cast<size_t>(n)) == "anon_inode:[eventfd]";
}

}  // namespace ferry::internal
