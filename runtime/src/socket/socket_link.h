// A FrameLink over a connected Unix or TCP stream socket (held by Boost.Asio): each frame is
// a u32 little-endian length followed by that many bytes, written with one gathered write and
// read into a pooled buffer.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include "core/frame_link.h"
#include "core/send_gate.h"
#include "core/unix_socket.h"

namespace ferry::internal {

class SocketLink final : public FrameLink {
 public:
  // Takes `socket` (connected, handshake done). Frames longer than `max_frame_bytes` are
  // refused on receipt (DATA_LOSS).
  static Result<std::unique_ptr<SocketLink>> Adopt(Fd socket, uint64_t max_frame_bytes);
  ~SocketLink() override;

  std::string_view name() const override { return tcp_ ? "tcp" : "unix"; }
  Status Send(std::span<const Part> parts, std::chrono::steady_clock::time_point deadline) override;
  Result<PooledBuffer> Receive(std::chrono::steady_clock::time_point deadline) override;
  void Shutdown() override;
  uint64_t bytes_copied() const override { return bytes_copied_.load(std::memory_order_relaxed); }

 private:
  SocketLink(boost::asio::generic::stream_protocol protocol, Fd socket, bool tcp,
             uint64_t max_frame_bytes);

  boost::asio::io_context io_;  // sync operations only: never run
  boost::asio::generic::stream_protocol::socket socket_;
  const bool tcp_;
  const uint64_t max_frame_bytes_;
  const std::shared_ptr<BufferPool> pool_;
  SendGate send_gate_;
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> bytes_copied_{0};
};

}  // namespace ferry::internal
