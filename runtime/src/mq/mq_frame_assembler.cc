// Queue messages back into frames (see mq_wire.h for the format).
#include "mq/mq_frame_assembler.h"

#include <cstring>
#include <utility>

#include "mq/mq_wire.h"

namespace ferry::internal {

MqFrameAssembler::MqFrameAssembler(BufferPool& pool, uint64_t max_frame_bytes,
                                   std::atomic<uint64_t>& bytes_copied)
    : pool_(pool), max_frame_bytes_(max_frame_bytes), bytes_copied_(bytes_copied) {}

std::span<uint8_t> MqFrameAssembler::Target(std::span<uint8_t> staging) {
  if (in_frame_ && frame_.capacity() - filled_ >= staging.size()) {
    return {frame_.data() + filled_, frame_.capacity() - filled_};
  }
  return staging;
}

MqFrameAssembler::Step MqFrameAssembler::Fail(std::string why) {
  failed_ = true;
  in_frame_ = false;
  frame_ = PooledBuffer();
  Step step;
  step.kind = Step::Kind::kDataLoss;
  step.why = std::move(why);
  return step;
}

MqFrameAssembler::Step MqFrameAssembler::Take(std::span<uint8_t> target, size_t size) {
  using mq_wire::Header;
  using mq_wire::Kind;
  if (failed_) return Fail("a queue message after the link broke");
  if (size > target.size()) return Fail("a queue message larger than its buffer");
  Step step;
  if (in_frame_) {
    if (size == 0 || size > frame_.size() - filled_) {
      return Fail("a frame's continuation overruns its announced length");
    }
    if (target.data() != frame_.data() + filled_) {  // received in staging: moved into place
      std::memcpy(frame_.data() + filled_, target.data(), size);
      bytes_copied_.fetch_add(size, std::memory_order_relaxed);
    }
    bytes_copied_.fetch_add(size, std::memory_order_relaxed);  // out of the queue
    filled_ += size;
    if (filled_ == frame_.size()) {
      in_frame_ = false;
      step.kind = Step::Kind::kFrame;
      step.frame = std::exchange(frame_, PooledBuffer());
    }
    return step;
  }
  if (size < sizeof(Header)) return Fail("a queue message shorter than its header");
  Header header;
  std::memcpy(&header, target.data(), sizeof(header));
  switch (static_cast<Kind>(header.kind)) {
    case Kind::kHello:
      step.kind = Step::Kind::kHello;
      step.pid = header.value;
      return step;
    case Kind::kHeartbeat:
      step.kind = Step::Kind::kHeartbeat;
      return step;
    case Kind::kGoodbye:
      step.kind = Step::Kind::kGoodbye;
      return step;
    case Kind::kInlineFrame:
    case Kind::kFrameStart:
      break;
    default:
      return Fail("a queue message of unknown kind " + std::to_string(header.kind));
  }
  if (header.value > max_frame_bytes_) {
    return Fail("a frame of " + std::to_string(header.value) + " bytes, over the maximum of " +
                std::to_string(max_frame_bytes_));
  }
  if (static_cast<Kind>(header.kind) == Kind::kInlineFrame) {
    if (header.value != size - sizeof(Header)) {
      return Fail("an inline frame whose length does not match its message");
    }
    step.kind = Step::Kind::kFrame;
    step.frame = pool_.Take(header.value);
    if (header.value > 0) {
      std::memcpy(step.frame.data(), target.data() + sizeof(Header), header.value);
    }
    bytes_copied_.fetch_add(2 * header.value, std::memory_order_relaxed);  // queue, then here
    return step;
  }
  if (size != sizeof(Header)) return Fail("a frame start message carrying data");
  frame_ = pool_.Take(header.value);
  filled_ = 0;
  in_frame_ = header.value > 0;
  if (!in_frame_) {
    step.kind = Step::Kind::kFrame;
    step.frame = std::exchange(frame_, PooledBuffer());
    return step;
  }
  step.kind = Step::Kind::kFrameBegun;
  return step;
}

}  // namespace ferry::internal
