#include "call/call_frame.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ferry::internal {
namespace {

std::vector<uint8_t> Frame(const CallHeader& fields, size_t payload_size) {
  const EncodedHeader header(fields);
  std::vector<uint8_t> frame(header.header().begin(), header.header().end());
  frame.resize(header.size(), 0);
  for (size_t i = 0; i < payload_size; ++i) frame.push_back(static_cast<uint8_t>(i));
  return frame;
}

TEST(CallFrame, RoundTripKeepsEveryFieldAndAlignsThePayloadTo8) {
  CallHeader fields;
  fields.type = FrameType::kReply;
  fields.call_id = 0x123456789abcULL;
  fields.method_id = 0xdeadbeef;
  fields.kind = 4;
  fields.deadline_us = 5000;
  fields.status_code = 9;
  fields.status_message = "not here";
  const std::vector<uint8_t> frame = Frame(fields, 13);
  Result<DecodedFrame> decoded = DecodeCallFrame(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->fields.type, FrameType::kReply);
  EXPECT_EQ(decoded->fields.call_id, fields.call_id);
  EXPECT_EQ(decoded->fields.method_id, fields.method_id);
  EXPECT_EQ(decoded->fields.kind, 4);
  EXPECT_EQ(decoded->fields.deadline_us, 5000U);
  EXPECT_EQ(decoded->fields.status_code, 9U);
  EXPECT_EQ(decoded->fields.status_message, "not here");
  EXPECT_EQ(decoded->payload_offset % 8, 0U);
  EXPECT_EQ(decoded->payload_size, 13U);
  EXPECT_EQ(frame[decoded->payload_offset + 12], 12);
}

TEST(CallFrame, DefaultFieldsStillDecode) {
  Result<DecodedFrame> decoded = DecodeCallFrame(Frame(CallHeader{}, 0));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->fields.type, FrameType::kRequest);
  EXPECT_EQ(decoded->payload_size, 0U);
}

TEST(CallFrame, HeaderLengthPastTheFrameIsDataLoss) {
  std::vector<uint8_t> frame = Frame(CallHeader{}, 0);
  const uint32_t huge = 1 << 20;
  std::memcpy(frame.data(), &huge, 4);
  EXPECT_EQ(DecodeCallFrame(frame).status().code(), StatusCode::kDataLoss);
}

TEST(CallFrame, TooShortOrGarbageIsDataLoss) {
  EXPECT_EQ(DecodeCallFrame(std::vector<uint8_t>{1, 0}).status().code(), StatusCode::kDataLoss);
  std::vector<uint8_t> garbage(64, 0xa5);
  garbage[0] = 40;
  garbage[1] = garbage[2] = garbage[3] = 0;
  EXPECT_EQ(DecodeCallFrame(garbage).status().code(), StatusCode::kDataLoss);
}

TEST(CallFrame, UnknownFrameTypeIsDataLoss) {
  CallHeader fields;
  fields.type = static_cast<FrameType>(7);
  EXPECT_EQ(DecodeCallFrame(Frame(fields, 0)).status().code(), StatusCode::kDataLoss);
}

TEST(CallHeaderEncoding, DeadlinesTravelAsMicrosecondsLeft) {
  using Clock = std::chrono::steady_clock;
  EXPECT_EQ(DeadlineToWire(Clock::time_point::max()), 0U);
  EXPECT_EQ(DeadlineFromWire(0), Clock::time_point::max());
  EXPECT_EQ(DeadlineToWire(Clock::now() - std::chrono::seconds(1)), 1U);  // due: not "none"
  const uint64_t left = DeadlineToWire(Clock::now() + std::chrono::seconds(2));
  EXPECT_GT(left, 1'900'000U);
  EXPECT_LE(left, 2'000'000U);
  const auto deadline = DeadlineFromWire(left);
  EXPECT_GT(deadline, Clock::now() + std::chrono::seconds(1));
  // Past what a clock can count: no deadline, never "already expired".
  EXPECT_EQ(DeadlineFromWire(UINT64_MAX), Clock::time_point::max());
  EXPECT_EQ(DeadlineFromWire(uint64_t{1} << 63), Clock::time_point::max());
}

TEST(CallHeaderEncoding, StatusesFromTheWireAreBoundedAndUnknownCodesNamed) {
  EXPECT_EQ(StatusFromWire(5, "gone"), Status(StatusCode::kNotFound, "gone"));
  EXPECT_EQ(StatusFromWire(0, ""), Status::Ok());
  const Status unknown = StatusFromWire(99, "x");
  EXPECT_EQ(unknown.code(), StatusCode::kUnknown);
  EXPECT_NE(unknown.message().find("99"), std::string::npos);
  EXPECT_EQ(StatusFromWire(13, std::string(10000, 'y')).message().size(), kMaxStatusMessageBytes);
  // A cut never splits a UTF-8 sequence.
  std::string text(kMaxStatusMessageBytes - 1, 'a');
  text += "\xc3\xa9";  // a two-byte character straddling the bound
  EXPECT_EQ(StatusFromWire(13, text).message().size(), kMaxStatusMessageBytes - 1);
}

}  // namespace
}  // namespace ferry::internal
