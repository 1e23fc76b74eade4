// A bidirectional, ordered, reliable carrier of whole frames between two processes: a stream
// socket (frames delimited by a length) or a pair of message queues (frames split into queue
// messages). Call multiplexing (core/link_client.h, core/link_server_connection.h) sits on
// top and never learns which one is underneath. Both sides receive "leader/follower" style:
// whichever waiting thread holds the receiving role reads the next frame itself, so a call
// costs no hand-off between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "call/buffer_pool.h"
#include "ferry/result.h"

namespace ferry::internal {

class FrameLink {
 public:
  using Part = std::span<const uint8_t>;

  virtual ~FrameLink() = default;

  // "unix", "tcp", "mq".
  virtual std::string_view name() const = 0;
  // Sends one frame: the concatenation of `parts`, gathered without a staging copy where the
  // carrier allows it. Thread-safe: frames from several threads never interleave. Blocks while
  // the peer does not drain (backpressure). `deadline` (time_point::max(): none) bounds the
  // call: DEADLINE_EXCEEDED when it passes, and the link is still fine. A frame the deadline
  // finds partly sent is never cut short (the peer could not find the next frame, and every
  // other call on the link would end): the link finishes it on its own, within its frame
  // time, else it shuts down. UNAVAILABLE once the link is down.
  virtual Status Send(std::span<const Part> parts,
                      std::chrono::steady_clock::time_point deadline) = 0;
  // Like Send, but the link may hold a small frame back, copied into a batch that goes out
  // ahead of the next Send, at Flush(), or as soon as Receive would wait: replies to a burst
  // of pipelined calls (or a burst of asynchronous calls) then cost one system call instead
  // of one each. Only worth it while a thread is in, or heading for, Receive: the frame waits
  // for that thread to run out of frames already read in, and goes at once if it waits
  // already. `deadline` bounds waiting for a turn (and for room, should the frame go now).
  // The default sends at once.
  virtual Status SendBatched(std::span<const Part> parts,
                             std::chrono::steady_clock::time_point deadline) {
    return Send(parts, deadline);
  }
  // Sends what SendBatched held back, unless another thread is sending (then its frame took
  // the batch along). Blocks while the peer does not drain, as Send does.
  virtual void Flush() {}
  // Whether Receive would return a frame without waiting (a whole one was read ahead). For
  // the receiving thread.
  virtual bool FrameReady() const { return false; }
  // Blocks for the next whole frame, received into a buffer from the link's pool (its size()
  // is the frame's). One receiving thread at a time. DEADLINE_EXCEEDED when no frame has begun
  // to arrive by `deadline` (time_point::max() waits for ever); a frame that has begun is read
  // to its end within the link's frame time, whatever `deadline` says. UNAVAILABLE when the
  // peer has gone or Shutdown() was called; DATA_LOSS for a frame over the link's maximum, cut
  // short by the peer, or not whole within the frame time (the link is then unusable: it is
  // shut down).
  virtual Result<PooledBuffer> Receive(std::chrono::steady_clock::time_point deadline) = 0;
  // Unblocks Send and Receive in other threads; both then fail with UNAVAILABLE. Idempotent,
  // thread-safe.
  virtual void Shutdown() = 0;
  // No more frames from this side (a frame being sent is finished first); the peer reads what
  // was sent, then sees the link end, and may still send. The default does nothing.
  virtual void CloseWrites() {}
  // Whether the peer is known to be gone although Receive has not seen it yet (it hung up, its
  // process exited), checked without waiting. The default knows nothing.
  virtual bool PeerGone() const { return false; }
  // Frame bytes this side has copied (or had the kernel copy) so far, counted honestly: a
  // socket copies every byte once into the kernel on send and once out on receive; a queue
  // stages and pushes on send and pops on receive. Thread-safe.
  virtual uint64_t bytes_copied() const = 0;
  // The pool frames are received into, for building outgoing messages too (one pool per
  // connection, which the link trims while it waits); null when the link offers none.
  virtual const std::shared_ptr<BufferPool>& pool() const {
    static const std::shared_ptr<BufferPool> kNone;
    return kNone;
  }
};

}  // namespace ferry::internal
