// The rendezvous handshake of idl/ferry/protocol.fbs, one function per step.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/unix_socket.h"
#include "ferry/result.h"

namespace ferry::internal {

struct WelcomeInfo {
  uint64_t segment_bytes = 0;
  uint32_t layout_version = 0;
  Fd segment;  // the segment's descriptor, passed with the frame
};

Status SendHello(int fd);
// Sends `segment_fd` along with the Welcome.
Status SendWelcome(int fd, uint64_t segment_bytes, uint32_t layout_version, int segment_fd);
Status SendRefusal(int fd, const Status& why);
Status SendMapped(int fd);

// Decoding a received frame's bytes (also what the fuzzer drives). DATA_LOSS for anything
// that is not a verified frame of the expected type; ParseHello adds FAILED_PRECONDITION for
// another protocol version; ParseWelcome returns a Refusal as its status (the descriptor is
// not part of the bytes: ReceiveWelcome attaches it).
Status ParseHello(std::span<const uint8_t> bytes);
Status ParseMapped(std::span<const uint8_t> bytes);
Result<WelcomeInfo> ParseWelcome(std::span<const uint8_t> bytes);

// Server side. FAILED_PRECONDITION for another protocol version, DATA_LOSS for garbage.
Status ReceiveHello(int fd, Deadline deadline);
Status ReceiveMapped(int fd, Deadline deadline);
// Client side: the Welcome with its descriptor, or the server's Refusal as a status.
Result<WelcomeInfo> ReceiveWelcome(int fd, Deadline deadline);

}  // namespace ferry::internal
