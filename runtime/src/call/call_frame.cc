// Encoding and verifying the CallHeader that starts every socket and queue call frame.
#include "call/call_frame.h"

#include <cstring>

#include "ferry/protocol_generated.h"

namespace ferry::internal {
namespace pb = ferry::protocol;

EncodedHeader::EncodedHeader(const CallHeader& fields) : fbb_(128) {
  auto message = fields.status_message.empty() ? 0 : fbb_.CreateString(fields.status_message);
  pb::CallHeaderBuilder header(fbb_);
  header.add_call_id(fields.call_id);
  header.add_deadline_us(fields.deadline_us);
  header.add_method_id(fields.method_id);
  header.add_status_code(fields.status_code);
  if (!message.IsNull()) header.add_status_message(message);
  header.add_type(static_cast<pb::FrameType>(fields.type));
  header.add_kind(fields.kind);
  header.add_window_messages(fields.window_messages);
  header.add_window_bytes(fields.window_bytes);
  header.add_acked_messages(fields.acked_messages);
  header.add_acked_bytes(fields.acked_bytes);
  fbb_.FinishSizePrefixed(header.Finish());
  padding_ = (8 - fbb_.GetSize() % 8) % 8;
}

Result<DecodedFrame> DecodeCallFrame(std::span<const uint8_t> frame) {
  if (frame.size() < 4) return Status::DataLoss("call frame of " + std::to_string(frame.size()) + " bytes");
  uint32_t header_size;
  std::memcpy(&header_size, frame.data(), 4);
  header_size = flatbuffers::EndianScalar(header_size);
  if (header_size > frame.size() - 4) {
    return Status::DataLoss("call header of " + std::to_string(header_size) +
                            " bytes in a frame of " + std::to_string(frame.size()));
  }
  flatbuffers::Verifier verifier(frame.data(), 4 + size_t{header_size}, 16, 64);
  if (!verifier.VerifySizePrefixedBuffer<pb::CallHeader>(nullptr)) {
    return Status::DataLoss("call header failed verification");
  }
  const pb::CallHeader* header = flatbuffers::GetSizePrefixedRoot<pb::CallHeader>(frame.data());
  if (header->type() > pb::FrameType::MAX) {
    return Status::DataLoss("call frame of unknown type " +
                            std::to_string(static_cast<int>(header->type())));
  }
  DecodedFrame decoded;
  decoded.fields.type = static_cast<FrameType>(header->type());
  decoded.fields.call_id = header->call_id();
  decoded.fields.method_id = header->method_id();
  decoded.fields.kind = header->kind();
  decoded.fields.deadline_us = header->deadline_us();
  decoded.fields.status_code = header->status_code();
  if (header->status_message() != nullptr) {
    decoded.fields.status_message = header->status_message()->str();
    if (decoded.fields.status_message.size() > kMaxStatusMessageBytes) {
      decoded.fields.status_message.resize(kMaxStatusMessageBytes);
    }
  }
  decoded.fields.window_messages = header->window_messages();
  decoded.fields.window_bytes = header->window_bytes();
  decoded.fields.acked_messages = header->acked_messages();
  decoded.fields.acked_bytes = header->acked_bytes();
  decoded.payload_offset = (4 + size_t{header_size} + 7) / 8 * 8;
  if (decoded.payload_offset > frame.size()) {
    return Status::DataLoss("call frame ends inside the header's padding");
  }
  decoded.payload_size = frame.size() - decoded.payload_offset;
  return decoded;
}

}  // namespace ferry::internal
