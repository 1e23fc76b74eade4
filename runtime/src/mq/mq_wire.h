// What an mq:// link's queue messages carry. Between frames every queue message starts with a
// Header. A frame that fits after it in one message travels inline; a larger one is announced
// by a header-only kFrameStart message and follows in raw messages of the queue's full
// message size (the last one shorter), with nothing else in between: the writer is the only
// sender into its queue and finishes a frame before it sends a heartbeat. Raw messages can
// then be received straight into the frame's buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::internal::mq_wire {

enum class Kind : uint32_t {
  kHello = 0x464d0001,        // value: the sender's pid; the first message either side sends
  kHeartbeat = 0x464d0002,    // value: 0
  kInlineFrame = 0x464d0003,  // value: frame length; the frame follows in this message
  kFrameStart = 0x464d0004,   // value: frame length; the frame follows in raw messages
  kGoodbye = 0x464d0005,      // value: 0; the sender shut its link down (between frames)
};

struct Header {
  uint32_t kind;
  uint32_t reserved;
  uint64_t value;
};
static_assert(sizeof(Header) == 16);

// A queue message must hold a header and some bytes of frame.
constexpr size_t kMinQueueMessageBytes = 256;

}  // namespace ferry::internal::mq_wire
