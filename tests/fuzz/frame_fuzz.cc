// libFuzzer target: arbitrary bytes from a socket peer after the handshake, read by the
// socket link (length prefix, limit, truncation) and decoded as call frames. Nothing may
// crash, hang or read out of bounds.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "call/call_frame.h"
#include "os/unix_socket.h"
#include "socket/socket_link.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ferry::internal::DecodeCallFrame({data, size});

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
    (void)ferry::internal::DecodeCallFrame({frame->data(), frame->size()});
  }
  return 0;
}
