// What travels with every message of a call, on every transport: the call's id and frame type,
// and what the frame type needs (method, kind, deadline, status, flow-control window). Sockets
// and queues encode it as a FlatBuffer before the payload (call/call_frame.h); shared memory
// carries the same fields in its ring descriptors. idl/ferry/protocol.fbs is the normative
// description of the conversation.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ferry/status.h"

namespace ferry::internal {

// Values travel on the wire: never renumber.
enum class FrameType : uint8_t {
  kRequest = 0,    // client -> server: opens a call
  kReply = 1,      // server -> client: the call's status (and reply payload); ends the call
  kCancel = 2,     // client -> server: the caller gave up
  kMessage = 3,    // either way: one stream message
  kHalfClose = 4,  // client -> server: no more stream messages from the client
  kWindow = 5,     // either way: the sender's receive window, and what it has consumed
};
inline constexpr uint8_t kMaxFrameType = 5;

// Status messages are cut to this many bytes, on every transport.
inline constexpr size_t kMaxStatusMessageBytes = 4096;

struct CallHeader {
  FrameType type = FrameType::kRequest;
  uint64_t call_id = 0;
  uint32_t method_id = 0;    // kRequest
  uint8_t kind = 0;          // kRequest: ferry::MethodKind as sent (the receiver checks it)
  uint64_t deadline_us = 0;  // kRequest: DeadlineToWire()
  uint32_t status_code = 0;  // kReply
  std::string status_message;  // kReply, at most kMaxStatusMessageBytes
  uint32_t window_messages = 0;  // kRequest, kWindow
  uint64_t window_bytes = 0;     // kRequest, kWindow
  uint32_t acked_messages = 0;   // kWindow
  uint64_t acked_bytes = 0;      // kWindow
};

// The one wire encoding of a deadline: microseconds left when the frame is sent, rounded up
// (so a live deadline never reads as none); 0 means none. Relative, so it needs no shared
// clock (tcp:// peers have none).
uint64_t DeadlineToWire(std::chrono::steady_clock::time_point deadline);
std::chrono::steady_clock::time_point DeadlineFromWire(uint64_t deadline_us);

// The one mapping from a wire code and message to a Status (codes this build does not know
// become UNKNOWN, naming the number). The message is cut to kMaxStatusMessageBytes.
Status StatusFromWire(uint32_t code, std::string message);
// A status's message as it may travel: cut to kMaxStatusMessageBytes (at a UTF-8 boundary).
std::string WireStatusMessage(const Status& status);

}  // namespace ferry::internal
