// Thin POSIX Unix-socket helpers for the rendezvous: listening, connecting, length-prefixed
// frames with deadlines, and peer credentials.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ferry/result.h"

namespace ferry::internal {

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
  bool valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

using Deadline = std::chrono::steady_clock::time_point;

// Binds and listens at `path`, replacing a stale socket file (one nobody accepts on).
// ALREADY_EXISTS when a live server holds it.
Result<Fd> ListenUnix(const std::string& path);
// UNAVAILABLE when nothing listens at `path`.
Result<Fd> ConnectUnix(const std::string& path);

inline constexpr uint32_t kMaxFrameBytes = 65536;

// Sends one frame: u32 little-endian length, then the bytes.
Status SendFrame(int fd, std::span<const uint8_t> bytes);
// Receives one frame, waiting until `deadline`. UNAVAILABLE on end-of-file, DEADLINE_EXCEEDED,
// DATA_LOSS for an empty or oversized frame.
Result<std::vector<uint8_t>> ReceiveFrame(int fd, Deadline deadline);

// The effective uid of the process at the other end.
Result<uid_t> PeerUid(int fd);

}  // namespace ferry::internal
