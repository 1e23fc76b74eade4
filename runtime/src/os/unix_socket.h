// Thin POSIX Unix-socket helpers for the rendezvous: listening, connecting, length-prefixed
// frames with deadlines, and peer credentials.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ferry/call_context.h"
#include "ferry/result.h"

namespace ferry::internal {

using Deadline = std::chrono::steady_clock::time_point;

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  // Gives up ownership.
  int Release() { return std::exchange(fd_, -1); }
  bool valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

// A listening socket and the lock file (<path>.lock, flock'ed) that makes its owner unique.
struct NamedSocket {
  Fd fd;
  Fd lock;
  std::string path;
  std::string lock_path;
  struct stat socket_file {};  // identities, so that only these files are ever removed
  struct stat lock_file {};
};

// Takes the name's lock, replaces a stale socket file and listens at `path`. Never removes
// anything else: FAILED_PRECONDITION (naming the path and what it is) when `path` holds
// anything but a socket, or `<path>.lock` anything but an empty regular file of this user;
// ALREADY_EXISTS when a live server (ferry or not) listens at `path`; PERMISSION_DENIED when
// the directory refuses us.
Result<NamedSocket> ListenUnix(const std::string& path);
// Listens on "@name" in the abstract namespace: no file, so nothing outlives the process;
// reachable from the same network namespace only. ALREADY_EXISTS when the name is taken.
Result<Fd> ListenAbstract(const std::string& name);
// Unlinks the socket and lock files (when they are still the ones made) and closes both.
void RemoveNamedSocket(NamedSocket& listener);
// `path` may be "@name" (abstract namespace). UNAVAILABLE when nothing listens at `path`;
// PERMISSION_DENIED when the socket (or a directory on its path) refuses us;
// DEADLINE_EXCEEDED when the server does not accept (its backlog stays full) before `deadline`.
Result<Fd> ConnectUnix(const std::string& path, Deadline deadline);

inline constexpr uint32_t kMaxFrameBytes = 65536;

// Sends one frame: u32 little-endian length, then the bytes; with `pass_fd` >= 0 that file
// descriptor travels along (SCM_RIGHTS).
Status SendFrame(int fd, std::span<const uint8_t> bytes, int pass_fd = -1);
// Receives one frame, waiting until `deadline`. UNAVAILABLE on end-of-file, DEADLINE_EXCEEDED,
// DATA_LOSS for an empty or oversized frame. A descriptor passed with the frame lands in
// `passed` (when given; otherwise it is closed).
Result<std::vector<uint8_t>> ReceiveFrame(int fd, Deadline deadline, Fd* passed = nullptr);

// The effective uid of the process at the other end.
Result<uid_t> PeerUid(int fd);
// PeerUid for a Unix socket; nothing for other sockets (TCP peers have no local uid).
std::optional<uid_t> LocalPeerUid(int fd);
// Who is at the other end of connected socket `fd`: pid, uid and gid for a Unix socket, the
// address for a TCP one; what cannot be learnt stays unknown.
Peer PeerOf(int fd);
// Whether the peer of stream socket `fd` (Unix or TCP) has hung up or it failed, without
// waiting or reading anything.
bool PeerHungUp(int fd);
// Whether `fd` is an eventfd (a descriptor a peer passed us, checked before we poll it).
bool IsEventFd(int fd);
// Adds 1 to eventfd `fd`'s counter, waking whoever polls it (a full counter is left as is).
void RingEventFd(int fd);
// Reads eventfd `fd`'s counter back to zero (non-blocking descriptors: never waits).
void DrainEventFd(int fd);

}  // namespace ferry::internal
