// libFuzzer target: arbitrary bytes from a socket peer after the handshake, read by the
// socket link (length prefix, limit, truncation) and decoded as call frames of every type
// (Request, Reply, Cancel, Message, HalfClose, Window), then interpreted as the engines do
// (status, deadline). Nothing may crash, hang or read out of bounds; a decoded frame must
// re-encode to the same fields.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "call/call_frame.h"
#include "call/call_header.h"
#include "os/unix_socket.h"
#include "socket/socket_link.h"

namespace {

// Aborts (a finding) when an invariant does not hold, naming it.
void Fail(const char* condition, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, line, condition);
  std::abort();
}
#define CHECK(condition) ((condition) ? void() : Fail(#condition, __LINE__))

bool SameFields(const ferry::internal::CallHeader& a, const ferry::internal::CallHeader& b) {
  return a.type == b.type && a.call_id == b.call_id && a.method_id == b.method_id &&
         a.kind == b.kind && a.deadline_us == b.deadline_us && a.status_code == b.status_code &&
         a.status_message == b.status_message && a.window_messages == b.window_messages &&
         a.window_bytes == b.window_bytes && a.acked_messages == b.acked_messages &&
         a.acked_bytes == b.acked_bytes;
}

void Decode(std::span<const uint8_t> frame) {
  auto decoded = ferry::internal::DecodeCallFrame(frame);
  if (!decoded.ok()) return;
  const ferry::internal::CallHeader& h = decoded->fields;
  CHECK(static_cast<uint8_t>(h.type) <= ferry::internal::kMaxFrameType);
  CHECK(h.status_message.size() <= ferry::internal::kMaxStatusMessageBytes);
  CHECK(decoded->payload_offset % 8 == 0 &&
        decoded->payload_offset + decoded->payload_size == frame.size());
  // What the engines make of the fields.
  const ferry::Status status = ferry::internal::StatusFromWire(h.status_code, h.status_message);
  CHECK(status.message().size() <= ferry::internal::kMaxStatusMessageBytes + 64);
  (void)ferry::internal::DeadlineFromWire(h.deadline_us);

  // The sender's encoding of the same fields decodes to them again.
  const ferry::internal::EncodedHeader header(h);
  std::vector<uint8_t> again(header.header().begin(), header.header().end());
  again.insert(again.end(), header.padding().begin(), header.padding().end());
  CHECK(again.size() == header.size());
  auto redecoded = ferry::internal::DecodeCallFrame(again);
  CHECK(redecoded.ok() && SameFields(redecoded->fields, h) &&
        redecoded->payload_offset == again.size() && redecoded->payload_size == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Decode({data, size});

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
  ferry::internal::Fd writer(pair[1]);
  auto link = ferry::internal::SocketLink::Adopt(ferry::internal::Fd(pair[0]), 1 << 16);
  if (!link.ok()) return 0;
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(writer.get(), data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;  // larger than the socket buffer: the rest is simply not sent
    sent += static_cast<size_t>(n);
  }
  writer.Reset();  // end-of-file after the bytes: Receive cannot block
  for (;;) {
    auto frame = (*link)->Receive(std::chrono::steady_clock::time_point::max());
    if (!frame.ok()) break;
    Decode({frame->data(), frame->size()});
  }
  return 0;
}
