// libFuzzer target: arbitrary queue messages from an mq:// peer, put back into frames by the
// link's reader (MqFrameAssembler): headers of any kind and length, inline frames, frame
// starts and continuations that overrun or fall short. Nothing may crash, read or write out of
// bounds, or hand out a frame over the limit; once a message breaks the format, nothing more
// is accepted.
//
// Input: messages, each a one-byte length (0-255; the queue's messages hold 256 bytes here)
// followed by that many bytes.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mq/mq_frame_assembler.h"
#include "mq/mq_wire.h"

namespace {

void Fail(const char* condition, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, line, condition);
  std::abort();
}
#define CHECK(condition) ((condition) ? void() : Fail(#condition, __LINE__))

constexpr uint64_t kMaxFrameBytes = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ferry::internal::MqFrameAssembler;
  using Step = MqFrameAssembler::Step;
  static const std::shared_ptr<ferry::internal::BufferPool> pool =
      ferry::internal::BufferPool::Create();
  std::atomic<uint64_t> copied{0};
  MqFrameAssembler assembler(*pool, kMaxFrameBytes, copied);
  std::vector<uint8_t> staging(ferry::internal::mq_wire::kMinQueueMessageBytes);
  bool broken = false;
  size_t at = 0;
  while (at < size) {
    const size_t announced = data[at];
    ++at;
    const size_t length = std::min(announced, size - at);
    const std::span<uint8_t> target = assembler.Target(staging);
    CHECK(target.size() >= staging.size());
    std::copy(data + at, data + at + length, target.begin());
    at += length;
    Step step = assembler.Take(target, length);
    if (broken) CHECK(step.kind == Step::Kind::kDataLoss);
    if (step.kind == Step::Kind::kDataLoss) {
      CHECK(!step.why.empty());
      CHECK(!assembler.in_frame());
      broken = true;
    }
    if (step.kind == Step::Kind::kFrame) {
      CHECK(step.frame.size() <= kMaxFrameBytes);
      if (step.frame.size() > 0) {
        volatile uint8_t last = step.frame.data()[step.frame.size() - 1];  // readable
        (void)last;
      }
    }
  }
  return 0;
}
