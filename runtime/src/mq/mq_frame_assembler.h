// The receiving half of the mq:// wire format (mq_wire.h): puts frames back together from the
// queue messages a peer sent, one message at a time. Everything in a message is the peer's
// word: a header's kind and length, a continuation's size. Lengths are checked against the
// limit and against what was announced before any memory is taken or written; a message that
// breaks the format ends the link (kDataLoss). No queue, no thread: the link's reader thread
// feeds it, and so does mq_fuzz.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "call/buffer_pool.h"

namespace ferry::internal {

class MqFrameAssembler {
 public:
  // What one queue message amounted to.
  struct Step {
    enum class Kind {
      kMore,        // part of a frame: more to come
      kFrameBegun,  // a large frame was announced: its raw messages follow
      kFrame,       // a whole frame, in `frame`
      kHello,       // the peer's first message: its pid in `pid`
      kHeartbeat,
      kGoodbye,   // the peer shut its link down
      kDataLoss,  // the peer broke the format (`why`): the link must end
    };
    Kind kind = Kind::kMore;
    PooledBuffer frame;
    uint64_t pid = 0;
    std::string why;
  };

  // Frames come from `pool`; none may be larger than `max_frame_bytes`. `bytes_copied` counts
  // what Take copies (it must outlive the assembler).
  MqFrameAssembler(BufferPool& pool, uint64_t max_frame_bytes,
                   std::atomic<uint64_t>& bytes_copied);

  // Where the next queue message is to be received: in place in the frame being put together
  // when a whole queue message (staging's size) fits there, else `staging`.
  std::span<uint8_t> Target(std::span<uint8_t> staging);
  // The queue message of `size` bytes just received at the start of `target` (what Target
  // returned; size <= target.size()).
  Step Take(std::span<uint8_t> target, size_t size);
  // Between the raw messages of a large frame.
  bool in_frame() const { return in_frame_; }

 private:
  Step Fail(std::string why);

  BufferPool& pool_;
  const uint64_t max_frame_bytes_;
  std::atomic<uint64_t>& bytes_copied_;
  PooledBuffer frame_;  // the frame being put together, if any
  uint64_t filled_ = 0;
  bool in_frame_ = false;
  bool failed_ = false;  // after kDataLoss every message is refused
};

}  // namespace ferry::internal
