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

#include "core/buffer_pool.h"
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
  // the peer does not drain (backpressure), until `deadline` (time_point::max(): for ever).
  // DEADLINE_EXCEEDED when nothing of the frame went out by then (the link is still fine);
  // UNAVAILABLE once the link is down, including when the deadline cut a frame short (the
  // link then shuts itself down: the peer could not find the next frame).
  virtual Status Send(std::span<const Part> parts,
                      std::chrono::steady_clock::time_point deadline) = 0;
  // Blocks for the next whole frame, received into a buffer from the link's pool (its size()
  // is the frame's). One receiving thread at a time. DEADLINE_EXCEEDED when no frame has begun
  // to arrive by `deadline` (time_point::max() waits for ever); UNAVAILABLE when the peer has
  // gone, Shutdown() was called, or the deadline passed in the middle of a frame (the link
  // then shuts itself down); DATA_LOSS for a frame over the link's maximum or cut short by
  // the peer (the link is then unusable: the caller shuts it down).
  virtual Result<PooledBuffer> Receive(std::chrono::steady_clock::time_point deadline) = 0;
  // Unblocks Send and Receive in other threads; both then fail with UNAVAILABLE. Idempotent,
  // thread-safe.
  virtual void Shutdown() = 0;
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
