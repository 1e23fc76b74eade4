// MqFrameAssembler: frames come back whole from inline messages and from a start followed by
// raw continuations (received in staging or in place); every way a peer can break the format
// ends the link with a reason, before memory is taken for an oversized frame; nothing is
// accepted after that.
#include "mq/mq_frame_assembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "mq/mq_wire.h"

namespace ferry::internal {
namespace {

using Step = MqFrameAssembler::Step;

constexpr size_t kQueueMessageBytes = mq_wire::kMinQueueMessageBytes;

struct Fixture {
  Fixture() : pool(BufferPool::Create()), assembler(*pool, 4096, copied) {}

  // Feeds one queue message, received where the assembler asks for it.
  Step Feed(const std::vector<uint8_t>& message) {
    const std::span<uint8_t> target = assembler.Target(staging);
    EXPECT_LE(message.size(), target.size());
    std::copy_n(message.begin(), std::min(message.size(), target.size()), target.begin());
    return assembler.Take(target, message.size());
  }

  std::shared_ptr<BufferPool> pool;
  std::atomic<uint64_t> copied{0};
  MqFrameAssembler assembler;
  std::vector<uint8_t> staging = std::vector<uint8_t>(kQueueMessageBytes);
};

std::vector<uint8_t> HeaderOnly(mq_wire::Kind kind, uint64_t value) {
  const mq_wire::Header header{static_cast<uint32_t>(kind), 0, value};
  std::vector<uint8_t> bytes(sizeof(header));
  std::memcpy(bytes.data(), &header, sizeof(header));
  return bytes;
}

std::vector<uint8_t> Inline(const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> bytes = HeaderOnly(mq_wire::Kind::kInlineFrame, frame.size());
  bytes.insert(bytes.end(), frame.begin(), frame.end());
  return bytes;
}

std::vector<uint8_t> Pattern(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 5);
  return bytes;
}

TEST(MqFrameAssembler, AnInlineFrameComesOutWhole) {
  Fixture f;
  const std::vector<uint8_t> frame = Pattern(100);
  Step step = f.Feed(Inline(frame));
  ASSERT_EQ(step.kind, Step::Kind::kFrame);
  ASSERT_EQ(step.frame.size(), frame.size());
  EXPECT_EQ(std::memcmp(step.frame.data(), frame.data(), frame.size()), 0);
}

TEST(MqFrameAssembler, ALargeFrameComesBackFromItsContinuations) {
  Fixture f;
  const std::vector<uint8_t> frame = Pattern(3000);  // 12 queue messages of 256 bytes
  ASSERT_EQ(f.Feed(HeaderOnly(mq_wire::Kind::kFrameStart, frame.size())).kind,
            Step::Kind::kFrameBegun);
  for (size_t at = 0; at < frame.size(); at += kQueueMessageBytes) {
    const size_t n = std::min(kQueueMessageBytes, frame.size() - at);
    Step step = f.Feed(std::vector<uint8_t>(frame.begin() + at, frame.begin() + at + n));
    if (at + n < frame.size()) {
      ASSERT_EQ(step.kind, Step::Kind::kMore);
      EXPECT_TRUE(f.assembler.in_frame());
      continue;
    }
    ASSERT_EQ(step.kind, Step::Kind::kFrame);
    ASSERT_EQ(step.frame.size(), frame.size());
    EXPECT_EQ(std::memcmp(step.frame.data(), frame.data(), frame.size()), 0);
  }
  EXPECT_FALSE(f.assembler.in_frame());
  // In place where a whole queue message fitted, through staging for the tail: each byte
  // came out of the queue once, and at most the tail was copied once more.
  EXPECT_GE(f.copied.load(), frame.size());
  EXPECT_LE(f.copied.load(), frame.size() + kQueueMessageBytes);
}

TEST(MqFrameAssembler, AnEmptyFrameStartIsAnEmptyFrame) {
  Fixture f;
  Step step = f.Feed(HeaderOnly(mq_wire::Kind::kFrameStart, 0));
  EXPECT_EQ(step.kind, Step::Kind::kFrame);
  EXPECT_EQ(step.frame.size(), 0U);
}

TEST(MqFrameAssembler, HellosHeartbeatsAndGoodbyesAreReported) {
  Fixture f;
  Step hello = f.Feed(HeaderOnly(mq_wire::Kind::kHello, 4242));
  EXPECT_EQ(hello.kind, Step::Kind::kHello);
  EXPECT_EQ(hello.pid, 4242U);
  EXPECT_EQ(f.Feed(HeaderOnly(mq_wire::Kind::kHeartbeat, 0)).kind, Step::Kind::kHeartbeat);
  EXPECT_EQ(f.Feed(HeaderOnly(mq_wire::Kind::kGoodbye, 0)).kind, Step::Kind::kGoodbye);
}

// A message that breaks the format, after a prefix that puts the assembler in a state.
struct Broken {
  const char* name;
  std::vector<std::vector<uint8_t>> messages;
  const char* why;  // a part of the reason
};

TEST(MqFrameAssembler, EveryBrokenMessageEndsTheLinkWithAReason) {
  std::vector<uint8_t> start = HeaderOnly(mq_wire::Kind::kFrameStart, 300);
  std::vector<uint8_t> mismatched = Inline(Pattern(10));
  mismatched[8] = 11;  // announces 11 bytes, carries 10
  std::vector<uint8_t> start_with_data = start;
  start_with_data.push_back(1);
  const Broken cases[] = {
      {"short", {{1, 2, 3}}, "shorter than its header"},
      {"unknown kind", {HeaderOnly(static_cast<mq_wire::Kind>(7), 0)}, "unknown kind 7"},
      {"inline over the limit", {HeaderOnly(mq_wire::Kind::kInlineFrame, 5000)}, "over the maximum"},
      {"start over the limit", {HeaderOnly(mq_wire::Kind::kFrameStart, uint64_t{1} << 40)},
       "over the maximum"},
      {"inline length", {mismatched}, "does not match"},
      {"start with data", {start_with_data}, "carrying data"},
      {"overrun", {start, Pattern(256), Pattern(100)}, "overruns"},
      {"empty continuation", {start, {}}, "overruns"},
  };
  for (const Broken& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    Step step;
    for (const std::vector<uint8_t>& message : c.messages) {
      step = f.Feed(message);
      if (step.kind == Step::Kind::kDataLoss) break;
    }
    ASSERT_EQ(step.kind, Step::Kind::kDataLoss);
    EXPECT_NE(step.why.find(c.why), std::string::npos) << step.why;
    // Nothing is taken after that, not even a well-formed message.
    EXPECT_EQ(f.Feed(Inline(Pattern(4))).kind, Step::Kind::kDataLoss);
    EXPECT_FALSE(f.assembler.in_frame());
  }
}

}  // namespace
}  // namespace ferry::internal
