#include "call/call_frame.h"

#include <gtest/gtest.h>

#include <cstring>
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

}  // namespace
}  // namespace ferry::internal
