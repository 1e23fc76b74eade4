// Encoding and checking handshake frames (FlatBuffers, verified before use).
#include "core/handshake.h"

#include <unistd.h>

#include "ferry/protocol_generated.h"

namespace ferry::internal {
namespace pb = ferry::protocol;

namespace {

Status Send(int fd, flatbuffers::FlatBufferBuilder& fbb, pb::HandshakeBody type,
            flatbuffers::Offset<void> body, int pass_fd = -1) {
  fbb.Finish(pb::CreateHandshakeFrame(fbb, type, body));
  return SendFrame(fd, {fbb.GetBufferPointer(), fbb.GetSize()}, pass_fd);
}

// Verifies a frame and checks it holds a body of `expected` (or `alternative`) type.
Result<const pb::HandshakeFrame*> Decode(std::span<const uint8_t> bytes,
                                         pb::HandshakeBody expected,
                                         pb::HandshakeBody alternative = pb::HandshakeBody::NONE) {
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!pb::VerifyHandshakeFrameBuffer(verifier)) {
    return Status::DataLoss("handshake frame failed verification");
  }
  const pb::HandshakeFrame* root = pb::GetHandshakeFrame(bytes.data());
  // The verifier accepts a union type without its value: refuse that here.
  if (root->body() == nullptr) return Status::DataLoss("handshake frame without a body");
  const pb::HandshakeBody type = root->body_type();
  if (type != expected && (alternative == pb::HandshakeBody::NONE || type != alternative)) {
    return Status::DataLoss(std::string("expected a ") + pb::EnumNameHandshakeBody(expected) +
                            " frame, got " + pb::EnumNameHandshakeBody(type));
  }
  return root;
}

}  // namespace

Status SendHello(int fd) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto hello = pb::CreateHello(fbb, static_cast<uint32_t>(pb::Version::Current),
                               static_cast<uint32_t>(getpid()));
  return Send(fd, fbb, pb::HandshakeBody::Hello, hello.Union());
}

Status SendWelcome(int fd, uint64_t segment_bytes, uint32_t layout_version, int segment_fd) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto body = pb::CreateWelcome(fbb, segment_bytes, layout_version);
  return Send(fd, fbb, pb::HandshakeBody::Welcome, body.Union(), segment_fd);
}

Status SendRefusal(int fd, const Status& why) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto body =
      pb::CreateRefusalDirect(fbb, static_cast<uint32_t>(why.code()), why.message().c_str());
  return Send(fd, fbb, pb::HandshakeBody::Refusal, body.Union());
}

Status SendMapped(int fd) {
  flatbuffers::FlatBufferBuilder fbb(64);
  return Send(fd, fbb, pb::HandshakeBody::Mapped, pb::CreateMapped(fbb).Union());
}

Status ParseHello(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root = Decode(bytes, pb::HandshakeBody::Hello);
  if (!root.ok()) return root.status();
  const pb::Hello* hello = (*root)->body_as_Hello();
  if (hello->protocol_version() != static_cast<uint32_t>(pb::Version::Current)) {
    return Status::FailedPrecondition(
        "client speaks ferry protocol " + std::to_string(hello->protocol_version()) +
        ", this server speaks " + std::to_string(static_cast<uint32_t>(pb::Version::Current)));
  }
  return Status::Ok();
}

Status ParseMapped(std::span<const uint8_t> bytes) {
  return Decode(bytes, pb::HandshakeBody::Mapped).status();
}

Result<WelcomeInfo> ParseWelcome(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root =
      Decode(bytes, pb::HandshakeBody::Welcome, pb::HandshakeBody::Refusal);
  if (!root.ok()) return root.status();
  if (const pb::Refusal* refusal = (*root)->body_as_Refusal()) {
    const uint32_t code = refusal->code();
    const std::string message = refusal->message() ? refusal->message()->str() : "";
    if (code == 0 || code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
      return Status::Unknown("server refused the connection: " + message);
    }
    return Status(static_cast<StatusCode>(code), "server refused the connection: " + message);
  }
  const pb::Welcome* welcome = (*root)->body_as_Welcome();
  return WelcomeInfo{welcome->segment_bytes(), welcome->layout_version(), Fd()};
}

Status ReceiveHello(int fd, Deadline deadline) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline);
  return frame.ok() ? ParseHello(*frame) : frame.status();
}

Status ReceiveMapped(int fd, Deadline deadline) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline);
  return frame.ok() ? ParseMapped(*frame) : frame.status();
}

Result<WelcomeInfo> ReceiveWelcome(int fd, Deadline deadline) {
  Fd segment;
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline, &segment);
  if (!frame.ok()) return frame.status();
  Result<WelcomeInfo> welcome = ParseWelcome(*frame);
  if (!welcome.ok()) return welcome.status();
  if (!segment.valid()) return Status::DataLoss("Welcome without the segment's descriptor");
  welcome->segment = std::move(segment);
  return welcome;
}

}  // namespace ferry::internal
