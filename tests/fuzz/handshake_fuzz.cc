// libFuzzer target: arbitrary bytes arriving on the rendezvous socket. They go through the
// real framing code (ReceiveFrame over a socketpair) and, frame or not, through every
// handshake decoder. Nothing may crash, hang or leak; every outcome is a Status.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "call/handshake.h"
#include "os/unix_socket.h"

namespace {

void DecodeAll(std::span<const uint8_t> bytes) {
  (void)ferry::internal::ParseHello(bytes);
  (void)ferry::internal::ParseMapped(bytes);
  (void)ferry::internal::ParseWelcome(bytes);
  (void)ferry::internal::ParseSocketWelcome(bytes);
  (void)ferry::internal::ParseQueueWelcome(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeAll({data, size});

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
  ferry::internal::Fd reader(pair[0]);
  ferry::internal::Fd writer(pair[1]);
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(writer.get(), data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;  // larger than the socket buffer: the rest is simply not sent
    sent += static_cast<size_t>(n);
  }
  writer.Reset();  // end-of-file after the bytes
  ferry::internal::Fd passed;
  auto frame = ferry::internal::ReceiveFrame(
      reader.get(), std::chrono::steady_clock::now() + std::chrono::milliseconds(100), &passed);
  if (frame.ok()) DecodeAll(*frame);
  return 0;
}
