// Call frames of the socket and queue transports (CallHeader in idl/ferry/protocol.fbs):
// encoding a header next to a payload that stays where it was built, and decoding a
// received frame in place.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ferry/result.h"

namespace ferry::internal {

enum class FrameType : uint8_t { kRequest = 0, kReply = 1, kCancel = 2 };

// A frame is its message plus at most this much: the CallHeader (whose status message is cut
// to kMaxStatusMessageBytes) and its padding. Links accept max_message_bytes plus this.
inline constexpr size_t kMaxStatusMessageBytes = 4096;
inline constexpr uint64_t kMaxFrameOverhead = 8192;

struct CallFields {
  FrameType type = FrameType::kRequest;
  uint64_t call_id = 0;
  uint32_t method_id = 0;
  uint8_t kind = 0;
  uint64_t deadline_us = 0;  // 0: none
  uint32_t status_code = 0;
  std::string status_message;
};

// The bytes that precede a payload in a frame: u32 H, H bytes of CallHeader, zero padding to
// a multiple of 8. Address-stable parts: keep the object alive until the frame is sent.
class EncodedHeader {
 public:
  explicit EncodedHeader(const CallFields& fields);
  EncodedHeader(const EncodedHeader&) = delete;
  EncodedHeader& operator=(const EncodedHeader&) = delete;

  std::span<const uint8_t> header() const { return {fbb_.GetBufferPointer(), fbb_.GetSize()}; }
  std::span<const uint8_t> padding() const { return {kZeros.data(), padding_}; }
  size_t size() const { return fbb_.GetSize() + padding_; }

 private:
  static constexpr std::array<uint8_t, 8> kZeros{};
  flatbuffers::FlatBufferBuilder fbb_;
  size_t padding_ = 0;
};

struct DecodedFrame {
  CallFields fields;
  size_t payload_offset = 0;  // from the frame's first byte; a multiple of 8
  size_t payload_size = 0;
};

// DATA_LOSS when the frame is too short, the header fails verification, or its type is unknown.
Result<DecodedFrame> DecodeCallFrame(std::span<const uint8_t> frame);

}  // namespace ferry::internal
