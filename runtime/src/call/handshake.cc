// Encoding and checking handshake frames (FlatBuffers, verified before use).
#include "call/handshake.h"

#include <unistd.h>

#include <fstream>

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
    return Status::DataLoss("not a ferry peer: its handshake frame of " +
                            std::to_string(bytes.size()) +
                            " bytes is not a FlatBuffer ferry reads");
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

Status Refused(const pb::Refusal& refusal) {
  const uint32_t code = refusal.code();
  const std::string message = refusal.message() ? refusal.message()->str() : "";
  if (code == 0 || code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
    return Status::Unknown("server refused the connection: " + message);
  }
  return Status(static_cast<StatusCode>(code), "server refused the connection: " + message);
}

}  // namespace

const std::string& HostId() {
  static const std::string id = [] {
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    std::string boot_id;
    std::getline(boot, boot_id);
    char net[128];
    const ssize_t n = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
    if (boot_id.empty() || n <= 0) return std::string();
    return boot_id + "/" + std::string(net, static_cast<size_t>(n));
  }();
  return id;
}

Status SendHello(int fd, const HelloInfo& info) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto hello = pb::CreateHelloDirect(fbb, static_cast<uint32_t>(pb::Version::Current),
                                     static_cast<uint32_t>(getpid()),
                                     info.host_id.empty() ? nullptr : info.host_id.c_str(),
                                     info.accept_shm);
  return Send(fd, fbb, pb::HandshakeBody::Hello, hello.Union());
}

Status SendSocketWelcome(int fd, const SocketWelcomeInfo& info) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto body = pb::CreateSocketWelcomeDirect(fbb, info.max_message_bytes,
                                            info.shm_path.empty() ? nullptr : info.shm_path.c_str());
  return Send(fd, fbb, pb::HandshakeBody::SocketWelcome, body.Union());
}

Status SendQueueWelcome(int fd, const QueueWelcomeInfo& info) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto body = pb::CreateQueueWelcomeDirect(fbb, info.request_queue.c_str(), info.reply_queue.c_str(),
                                           info.queue_message_bytes, info.max_message_bytes,
                                           info.heartbeat_ms);
  return Send(fd, fbb, pb::HandshakeBody::QueueWelcome, body.Union());
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

Status SendMapped(int fd, int pass_fd) {
  flatbuffers::FlatBufferBuilder fbb(64);
  return Send(fd, fbb, pb::HandshakeBody::Mapped, pb::CreateMapped(fbb).Union(), pass_fd);
}

Result<HelloInfo> ParseHello(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root = Decode(bytes, pb::HandshakeBody::Hello);
  if (!root.ok()) return root.status();
  const pb::Hello* hello = (*root)->body_as_Hello();
  if (hello->protocol_version() != static_cast<uint32_t>(pb::Version::Current)) {
    return Status::FailedPrecondition(
        "client speaks ferry protocol " + std::to_string(hello->protocol_version()) +
        ", this server speaks " + std::to_string(static_cast<uint32_t>(pb::Version::Current)));
  }
  return HelloInfo{hello->host_id() ? hello->host_id()->str() : "", hello->accept_shm()};
}

Status ParseMapped(std::span<const uint8_t> bytes) {
  return Decode(bytes, pb::HandshakeBody::Mapped).status();
}

Result<WelcomeInfo> ParseWelcome(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root =
      Decode(bytes, pb::HandshakeBody::Welcome, pb::HandshakeBody::Refusal);
  if (!root.ok()) return root.status();
  if (const pb::Refusal* refusal = (*root)->body_as_Refusal()) return Refused(*refusal);
  const pb::Welcome* welcome = (*root)->body_as_Welcome();
  return WelcomeInfo{welcome->segment_bytes(), welcome->layout_version(), Fd()};
}

Result<SocketWelcomeInfo> ParseSocketWelcome(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root =
      Decode(bytes, pb::HandshakeBody::SocketWelcome, pb::HandshakeBody::Refusal);
  if (!root.ok()) return root.status();
  if (const pb::Refusal* refusal = (*root)->body_as_Refusal()) return Refused(*refusal);
  const pb::SocketWelcome* welcome = (*root)->body_as_SocketWelcome();
  return SocketWelcomeInfo{welcome->max_message_bytes(),
                           welcome->shm_path() ? welcome->shm_path()->str() : ""};
}

Result<QueueWelcomeInfo> ParseQueueWelcome(std::span<const uint8_t> bytes) {
  Result<const pb::HandshakeFrame*> root =
      Decode(bytes, pb::HandshakeBody::QueueWelcome, pb::HandshakeBody::Refusal);
  if (!root.ok()) return root.status();
  if (const pb::Refusal* refusal = (*root)->body_as_Refusal()) return Refused(*refusal);
  const pb::QueueWelcome* welcome = (*root)->body_as_QueueWelcome();
  if (welcome->request_queue() == nullptr || welcome->reply_queue() == nullptr) {
    return Status::DataLoss("QueueWelcome without queue names");
  }
  return QueueWelcomeInfo{welcome->request_queue()->str(), welcome->reply_queue()->str(),
                          welcome->queue_message_bytes(), welcome->max_message_bytes(),
                          welcome->heartbeat_ms()};
}

Result<HelloInfo> ReceiveHello(int fd, Deadline deadline) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline);
  if (!frame.ok()) return frame.status();
  Result<HelloInfo> hello = ParseHello(*frame);
  if (hello.status().code() == StatusCode::kFailedPrecondition) {
    (void)SendRefusal(fd, hello.status());
  }
  return hello;
}

Status RefuseOtherUsers(int fd, std::string_view what) {
  Result<uid_t> uid = PeerUid(fd);
  if (!uid.ok()) return uid.status();
  if (*uid == geteuid()) return Status::Ok();
  Status refused = Status::PermissionDenied(std::string(what) + " processes of the same user only");
  (void)SendRefusal(fd, refused);
  return refused;
}

Status ReceiveMapped(int fd, Deadline deadline, Fd* passed) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline, passed);
  return frame.ok() ? ParseMapped(*frame) : frame.status();
}

Result<SocketWelcomeInfo> ReceiveSocketWelcome(int fd, Deadline deadline) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline);
  return frame.ok() ? ParseSocketWelcome(*frame) : frame.status();
}

Result<QueueWelcomeInfo> ReceiveQueueWelcome(int fd, Deadline deadline) {
  Result<std::vector<uint8_t>> frame = ReceiveFrame(fd, deadline);
  return frame.ok() ? ParseQueueWelcome(*frame) : frame.status();
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
