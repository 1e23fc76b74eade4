// Deadline and status encodings shared by every transport.
#include "call/call_header.h"

#include "os/deadline.h"

namespace ferry::internal {

uint64_t DeadlineToWire(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return 0;
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 1;  // already due: the peer sees it expired
  return static_cast<uint64_t>(std::chrono::ceil<std::chrono::microseconds>(left).count());
}

Clock::time_point DeadlineFromWire(uint64_t deadline_us) {
  // Zero, or more than any clock can add (the signed count would wrap): no deadline.
  constexpr uint64_t kNever = static_cast<uint64_t>(std::chrono::microseconds::max().count());
  if (deadline_us == 0 || deadline_us > kNever) return Clock::time_point::max();
  return DeadlineAfter(std::chrono::microseconds(static_cast<int64_t>(deadline_us)));
}

namespace {

std::string Cut(std::string text) {
  if (text.size() <= kMaxStatusMessageBytes) return text;
  size_t end = kMaxStatusMessageBytes;
  // Never leave half a UTF-8 sequence: back up over continuation bytes.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  text.resize(end);
  return text;
}

}  // namespace

Status StatusFromWire(uint32_t code, std::string message) {
  if (code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
    return Status::Unknown("status code " + std::to_string(code) + ": " + Cut(std::move(message)));
  }
  return Status(static_cast<StatusCode>(code), Cut(std::move(message)));
}

std::string WireStatusMessage(const Status& status) { return Cut(status.message()); }

}  // namespace ferry::internal
