// The rendezvous handshake of idl/ferry/protocol.fbs, one function per step.
#pragma once

#include <cstdint>
#include <string>

#include "core/unix_socket.h"
#include "ferry/result.h"

namespace ferry::internal {

struct WelcomeInfo {
  std::string segment_name;
  uint64_t segment_bytes = 0;
  uint32_t layout_version = 0;
};

Status SendHello(int fd);
Status SendWelcome(int fd, const WelcomeInfo& welcome);
Status SendRefusal(int fd, const Status& why);
Status SendMapped(int fd);

// Server side. FAILED_PRECONDITION for another protocol version, DATA_LOSS for garbage.
Status ReceiveHello(int fd, Deadline deadline);
Status ReceiveMapped(int fd, Deadline deadline);
// Client side: the Welcome, or the server's Refusal as a status.
Result<WelcomeInfo> ReceiveWelcome(int fd, Deadline deadline);

}  // namespace ferry::internal
