// A FrameLink over a connected Unix or TCP stream socket (held by Boost.Asio): each frame is
// a u32 little-endian length followed by that many bytes, written with one gathered write and
// read into a pooled buffer (small frames through a read-ahead buffer, several per recv).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include "call/frame_link.h"
#include "os/send_gate.h"
#include "os/unix_socket.h"

namespace ferry::internal {

struct SocketLinkOptions {
  // Frames longer than this are refused on receipt (DATA_LOSS).
  uint64_t max_frame_bytes = 0;
  // Where frames are received (and, through pool(), messages built); null: a pool of the
  // link's own, tied to no budget.
  std::shared_ptr<BufferPool> pool;
  // A frame that has begun (to arrive, or to go out) must be whole within frame_timeout plus
  // its size at min_frame_bytes_per_second (against peers that trickle), else the link shuts
  // down. Waiting for the pool's budget is bounded by the same time. Receive's and Send's
  // deadlines bound only the wait for a frame to begin. Zero: no limit.
  std::chrono::milliseconds frame_timeout{0};
  uint64_t min_frame_bytes_per_second = 0;
  // A frame Send's deadline finds partly sent is finished by the sending thread itself (within
  // the frame time) instead of from a copy by a thread of the link's own. For a server, whose
  // sender has no caller to return to and whose copies would pile up in memory.
  bool finish_frames_inline = false;
};

class SocketLink final : public FrameLink {
 public:
  // Takes `socket` (connected, handshake done).
  static Result<std::unique_ptr<SocketLink>> Adopt(Fd socket, SocketLinkOptions options);
  static Result<std::unique_ptr<SocketLink>> Adopt(Fd socket, uint64_t max_frame_bytes) {
    SocketLinkOptions options;
    options.max_frame_bytes = max_frame_bytes;
    return Adopt(std::move(socket), std::move(options));
  }
  ~SocketLink() override;

  std::string_view name() const override { return tcp_ ? "tcp" : "unix"; }
  Status Send(std::span<const Part> parts, std::chrono::steady_clock::time_point deadline) override;
  // Frames of up to kBatchFrameBytes are held back, kBatchBytes at most.
  Status SendBatched(std::span<const Part> parts,
                     std::chrono::steady_clock::time_point deadline) override;
  void Flush() override;
  bool FrameReady() const override;
  // While waiting for a frame to begin, the pool's large idle buffers age out. Sends the batch
  // first if it would wait.
  Result<PooledBuffer> Receive(std::chrono::steady_clock::time_point deadline) override;
  // Half-closes the socket (after a frame in progress and the batch): a server that closed with the client's
  // frames unread would reset the connection and lose what the client has not read yet.
  void CloseWrites() override;
  void Shutdown() override;
  // One poll() of the socket for a hang-up.
  bool PeerGone() const override;
  uint64_t bytes_copied() const override { return bytes_copied_.load(std::memory_order_relaxed); }
  const std::shared_ptr<BufferPool>& pool() const override { return pool_; }

 private:
  SocketLink(boost::asio::generic::stream_protocol protocol, Fd socket, bool tcp,
             SocketLinkOptions options);
  // How long a frame of `size` bytes may take to arrive (time_point::max() when unbounded).
  std::chrono::steady_clock::time_point FrameDeadline(uint64_t size) const;
  // Writes the batch out (holding the send turn), within its frame time; false when the
  // link is to shut down.
  bool FlushLocked();
  // Send's, for a frame with a deadline (holding `turn`): writes the batch ahead of it, waiting
  // for room no longer than `deadline`. DEADLINE_EXCEEDED when the deadline passed first: the
  // batch stays (nothing went) or is finished without the caller (part went), as a frame is.
  Status FlushBy(std::chrono::steady_clock::time_point deadline, SendTurn& turn);
  // Sends `rest` of a frame on a thread of the link's own, which then leaves `gate`.
  void FinishInBackground(std::span<const iovec> rest, SendGate* gate);
  // The buffer for a frame of `size` bytes, waiting for budget until `deadline` (or until
  // the peer hangs up or the link shuts down).
  Result<PooledBuffer> TakeFrameBuffer(uint32_t size,
                                       std::chrono::steady_clock::time_point deadline);

  boost::asio::io_context io_;  // sync operations only: never run
  boost::asio::generic::stream_protocol::socket socket_;
  const int fd_;  // socket_'s, for PeerGone (asio's native_handle() is not const)
  const bool tcp_;
  const SocketLinkOptions options_;
  const std::shared_ptr<BufferPool> pool_;
  SendGate send_gate_;
  // Sends the rest of a frame whose caller's deadline passed mid-frame (FinishInBackground).
  std::thread finisher_;
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> bytes_copied_{0};
  // SendBatched's frames (each with its length), not sent yet: they go out ahead of the next
  // frame sent. Guarded by the send turn; `batched_` says whether there are any, for Receive
  // to look without taking the turn. `receiving_` is set while Receive may wait: a frame
  // batched then goes at once. (Receive sets it, then flushes; SendBatched appends, leaves the
  // turn, then looks at it: one of them sees the other.)
  static constexpr size_t kBatchFrameBytes = 4 * 1024;
  static constexpr size_t kBatchBytes = 16 * 1024;
  std::vector<uint8_t> batch_;
  std::atomic<bool> batched_{false};
  std::atomic<bool> receiving_{false};
  // Receive's: bytes read from the socket ahead of the frame being taken apart, so that a
  // burst of small frames (pipelined calls, their replies) costs one recv instead of two per
  // frame. The unread part is [ahead_begin_, ahead_end_).
  static constexpr size_t kReadAheadBytes = 16 * 1024;
  std::vector<uint8_t> ahead_;
  size_t ahead_begin_ = 0;
  size_t ahead_end_ = 0;
};

}  // namespace ferry::internal
