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

#include "call/call_header.h"
#include "ferry/result.h"

namespace ferry::internal {

// A frame is its message plus at most this much: the CallHeader (whose status message is cut
// to kMaxStatusMessageBytes) and its padding. Links accept max_message_bytes plus this.
inline constexpr uint64_t kMaxFrameOverhead = 8192;

// The bytes that precede a payload in a frame: u32 H, H bytes of CallHeader, zero padding to
// a multiple of 8. Address-stable parts: keep the object alive until the frame is sent.
class EncodedHeader {
 public:
  explicit EncodedHeader(const CallHeader& fields);
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
  CallHeader fields;
  size_t payload_offset = 0;  // from the frame's first byte; a multiple of 8
  size_t payload_size = 0;
};

// DATA_LOSS when the frame is too short, the header fails verification, or its type is unknown.
Result<DecodedFrame> DecodeCallFrame(std::span<const uint8_t> frame);

}  // namespace ferry::internal
