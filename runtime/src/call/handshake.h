// The rendezvous handshake of idl/ferry/protocol.fbs, one function per step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "os/unix_socket.h"
#include "ferry/result.h"

namespace ferry::internal {

// What a client says about itself (unix://, tcp://; shm clients send the defaults).
struct HelloInfo {
  std::string host_id;      // HostId() of the client; empty: never offer shared memory
  bool accept_shm = false;
};

struct SocketWelcomeInfo {
  uint64_t max_message_bytes = 0;
  std::string shm_path;     // empty: no shared-memory offer
};

struct QueueWelcomeInfo {
  std::string request_queue;
  std::string reply_queue;
  uint32_t queue_message_bytes = 0;
  uint64_t max_message_bytes = 0;
  uint32_t heartbeat_ms = 0;
};

// "<boot id>/<network namespace>" of this process: equal for two processes exactly when they
// share a kernel and a network namespace (where a socket peer is "on the same host").
// Empty when /proc cannot tell.
const std::string& HostId();

struct WelcomeInfo {
  uint64_t segment_bytes = 0;
  uint32_t layout_version = 0;
  Fd segment;  // the segment's descriptor, passed with the frame
};

Status SendHello(int fd, const HelloInfo& hello = {});
Status SendSocketWelcome(int fd, const SocketWelcomeInfo& welcome);
Status SendQueueWelcome(int fd, const QueueWelcomeInfo& welcome);
// Sends `segment_fd` along with the Welcome.
Status SendWelcome(int fd, uint64_t segment_bytes, uint32_t layout_version, int segment_fd);
Status SendRefusal(int fd, const Status& why);
// With `pass_fd` >= 0 that descriptor travels along (shared memory: the client's doorbell).
Status SendMapped(int fd, int pass_fd = -1);

// Decoding a received frame's bytes (also what the fuzzer drives). DATA_LOSS for anything
// that is not a verified frame of the expected type; ParseHello adds FAILED_PRECONDITION for
// another protocol version; ParseWelcome returns a Refusal as its status (the descriptor is
// not part of the bytes: ReceiveWelcome attaches it).
Result<HelloInfo> ParseHello(std::span<const uint8_t> bytes);
Status ParseMapped(std::span<const uint8_t> bytes);
Result<WelcomeInfo> ParseWelcome(std::span<const uint8_t> bytes);
Result<SocketWelcomeInfo> ParseSocketWelcome(std::span<const uint8_t> bytes);
Result<QueueWelcomeInfo> ParseQueueWelcome(std::span<const uint8_t> bytes);

// Server side. FAILED_PRECONDITION for another protocol version (after sending the client a
// Refusal saying so), DATA_LOSS for garbage.
Result<HelloInfo> ReceiveHello(int fd, Deadline deadline);
// PERMISSION_DENIED (after sending the client a Refusal: "<what> processes of the same user
// only") when the peer runs as another user.
Status RefuseOtherUsers(int fd, std::string_view what);
// A descriptor passed with the frame lands in `passed` (when given).
Status ReceiveMapped(int fd, Deadline deadline, Fd* passed = nullptr);
// Client side: the Welcome with its descriptor, or the server's Refusal as a status.
Result<WelcomeInfo> ReceiveWelcome(int fd, Deadline deadline);
Result<SocketWelcomeInfo> ReceiveSocketWelcome(int fd, Deadline deadline);
Result<QueueWelcomeInfo> ReceiveQueueWelcome(int fd, Deadline deadline);

}  // namespace ferry::internal
