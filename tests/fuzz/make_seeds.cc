// Writes one valid frame of each handshake message into <handshake dir>, call frames as a
// socket carries them into <frame dir>, and scripts of shared-memory descriptors into
// <shm dir>, and queue messages into <mq dir>, as seeds for handshake_fuzz, frame_fuzz,
// shm_fuzz and mq_fuzz (random bytes rarely get past the FlatBuffers verifier, make a 64-byte
// descriptor, or name a queue message's kind on their own).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <flatbuffers/flatbuffers.h>

#include "call/call_frame.h"
#include "mq/mq_wire.h"
#include "ferry/protocol_generated.h"
#include "ferry/reflection.ferry.h"
#include "shm/layout.h"

namespace pb = ferry::protocol;

namespace {

void Write(const std::string& path, flatbuffers::FlatBufferBuilder& fbb, bool framed) {
  std::ofstream out(path, std::ios::binary);
  if (framed) {
    const uint32_t n = fbb.GetSize();
    const char length[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                            static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
    out.write(length, 4);
  }
  out.write(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// shm_fuzz's operations.
std::string PushAndReceive(const ferry::shm::Descriptor& d) {
  std::string op(1, '\0');
  op.append(reinterpret_cast<const char*>(&d), sizeof(d));
  return op;
}
std::string TakeSlot(uint8_t sixteenths) {
  return std::string{'\1', static_cast<char>(sixteenths)};
}

ferry::shm::Descriptor Frame(ferry::internal::FrameType type, uint32_t slot = ferry::shm::kNoIndex,
                             uint32_t offset = 0, uint32_t length = 0) {
  ferry::shm::Descriptor d{};
  d.call_id = 7;
  d.type = static_cast<uint8_t>(type);
  d.slot = slot;
  d.offset = offset;
  d.length = length;
  d.sender_cpu = 0xffff;
  return d;
}

void WriteShmSeeds(const std::string& dir) {
  using ferry::internal::FrameType;
  using ferry::shm::MakeSlotId;
  const std::string server(1, '\0'), client(1, '\1');
  ferry::shm::Descriptor request = Frame(FrameType::kRequest, MakeSlotId(0, 1), 0, 64);
  request.method_status_or_acked_messages = 0x1234abcd;  // the method id
  request.deadline_us_or_acked_bytes = 5000;            // the deadline
  request.kind = 3;
  request.window_messages = 256;
  request.window_bytes = 4 << 20;
  ferry::shm::Descriptor window = Frame(FrameType::kWindow);
  window.window_messages = 256;
  window.window_bytes = 4 << 20;
  window.method_status_or_acked_messages = 32;  // messages acknowledged
  window.deadline_us_or_acked_bytes = 1024;     // bytes acknowledged
  const std::string to_server =
      PushAndReceive(request) +
      PushAndReceive(Frame(FrameType::kMessage, MakeSlotId(1, 0), 64, 4000)) +
      PushAndReceive(window) + PushAndReceive(Frame(FrameType::kHalfClose)) +
      PushAndReceive(Frame(FrameType::kCancel));
  WriteBytes(dir + "/to-server", server + to_server);
  ferry::shm::Descriptor error_reply = Frame(FrameType::kReply, MakeSlotId(0, 2), 0, 9);
  error_reply.method_status_or_acked_messages = 5;  // a status code: its slot holds the text
  const std::string to_client =
      PushAndReceive(Frame(FrameType::kReply, MakeSlotId(0, 3), 8, 48)) +
      PushAndReceive(error_reply) +
      PushAndReceive(Frame(FrameType::kMessage, MakeSlotId(1, 1), 0, 16)) + PushAndReceive(window);
  WriteBytes(dir + "/to-client", client + to_client);
  // A slot this side is building in, named by the peer; memory outside a slot; a slot id of
  // no class; a type this side does not know (which ends the link).
  WriteBytes(
      dir + "/held-slot",
      server + TakeSlot(1) + PushAndReceive(Frame(FrameType::kMessage, MakeSlotId(0, 0), 0, 8)));
  WriteBytes(dir + "/outside-slot",
             server + PushAndReceive(Frame(FrameType::kMessage, MakeSlotId(0, 1), 200, 100)) +
                 PushAndReceive(Frame(FrameType::kMessage, MakeSlotId(7, 0), 0, 8)));
  WriteBytes(dir + "/unknown-type", client + PushAndReceive(Frame(FrameType{6})));
}

}  // namespace

// mq_fuzz's input: messages, each a one-byte length and its bytes (see mq_fuzz.cc).
std::string MqMessage(const std::string& bytes) {
  return std::string(1, static_cast<char>(bytes.size())) + bytes;
}
std::string MqHeader(ferry::internal::mq_wire::Kind kind, uint64_t value) {
  const ferry::internal::mq_wire::Header header{static_cast<uint32_t>(kind), 0, value};
  return std::string(reinterpret_cast<const char*>(&header), sizeof(header));
}

void WriteMqSeeds(const std::string& dir) {
  using ferry::internal::mq_wire::Kind;
  const std::string hello = MqMessage(MqHeader(Kind::kHello, 4242));
  const std::string frame(40, '\x2a');
  WriteBytes(dir + "/inline", hello + MqMessage(MqHeader(Kind::kInlineFrame, 40) + frame) +
                                  MqMessage(MqHeader(Kind::kHeartbeat, 0)));
  std::string large = hello + MqMessage(MqHeader(Kind::kFrameStart, 600));
  for (int sent = 0; sent < 600; sent += 200) large += MqMessage(std::string(200, '\x17'));
  WriteBytes(dir + "/large", large + MqMessage(MqHeader(Kind::kGoodbye, 0)));
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 6) {
    std::fprintf(stderr,
                 "usage: make_seeds <handshake dir> <frame dir> [<shm dir> [<mq dir> "
                 "[<reflected schema dir>]]]\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (bool framed : {false, true}) {
    const std::string suffix = framed ? "-framed" : "";
    flatbuffers::FlatBufferBuilder hello;
    hello.Finish(pb::CreateHandshakeFrame(hello, pb::HandshakeBody::Hello,
                                          pb::CreateHello(hello, 1, 42).Union()));
    Write(dir + "/hello" + suffix, hello, framed);
    flatbuffers::FlatBufferBuilder welcome;
    welcome.Finish(pb::CreateHandshakeFrame(welcome, pb::HandshakeBody::Welcome,
                                            pb::CreateWelcome(welcome, 1 << 20, 1).Union()));
    Write(dir + "/welcome" + suffix, welcome, framed);
    flatbuffers::FlatBufferBuilder refusal;
    refusal.Finish(pb::CreateHandshakeFrame(
        refusal, pb::HandshakeBody::Refusal,
        pb::CreateRefusalDirect(refusal, 8, "too many clients").Union()));
    Write(dir + "/refusal" + suffix, refusal, framed);
    flatbuffers::FlatBufferBuilder mapped;
    mapped.Finish(pb::CreateHandshakeFrame(mapped, pb::HandshakeBody::Mapped,
                                           pb::CreateMapped(mapped).Union()));
    Write(dir + "/mapped" + suffix, mapped, framed);
    flatbuffers::FlatBufferBuilder socket_welcome;
    socket_welcome.Finish(pb::CreateHandshakeFrame(
        socket_welcome, pb::HandshakeBody::SocketWelcome,
        pb::CreateSocketWelcomeDirect(socket_welcome, 1 << 20, "@ferry-upgrade-1-0-7").Union()));
    Write(dir + "/socket-welcome" + suffix, socket_welcome, framed);
    flatbuffers::FlatBufferBuilder queue_welcome;
    queue_welcome.Finish(pb::CreateHandshakeFrame(
        queue_welcome, pb::HandshakeBody::QueueWelcome,
        pb::CreateQueueWelcomeDirect(queue_welcome, "q-req", "q-rep", 65536, 1 << 20, 100)
            .Union()));
    Write(dir + "/queue-welcome" + suffix, queue_welcome, framed);
  }
  // Call frames, one of each type as a socket carries them, and the whole conversation of a
  // bidi stream in one file (the link reads frame after frame).
  const std::string frames = argv[2];
  std::string conversation;
  const auto write_call = [&](const std::string& name, const ferry::internal::CallHeader& fields,
                              size_t payload) {
    const ferry::internal::EncodedHeader header(fields);
    std::string body(reinterpret_cast<const char*>(header.header().data()),
                     header.header().size());
    body.resize(header.size() + payload, '\x2a');
    const uint32_t n = static_cast<uint32_t>(body.size());
    const char length[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                            static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
    const std::string frame = std::string(length, 4) + body;
    WriteBytes(frames + "/" + name, frame);
    conversation += frame;
  };
  using ferry::internal::FrameType;
  // A frame of call 7 of `type`, its other fields zero.
  const auto of_call = [](FrameType type) {
    ferry::internal::CallHeader fields;
    fields.type = type;
    fields.call_id = 7;
    return fields;
  };
  ferry::internal::CallHeader request = of_call(FrameType::kRequest);
  request.method_id = 0x1234abcd;
  request.deadline_us = 5000;
  write_call("request", request, 16);
  ferry::internal::CallHeader stream = request;
  stream.kind = 3;  // bidi streaming, with the client's receive window
  stream.window_messages = 64;
  stream.window_bytes = 4 << 20;
  write_call("request-stream", stream, 0);
  write_call("message", of_call(FrameType::kMessage), 32);
  ferry::internal::CallHeader window = of_call(FrameType::kWindow);
  window.window_messages = 256;
  window.window_bytes = 4 << 20;
  window.acked_messages = 32;
  window.acked_bytes = 1024;
  write_call("window", window, 0);
  write_call("half-close", of_call(FrameType::kHalfClose), 0);
  write_call("cancel", of_call(FrameType::kCancel), 0);
  write_call("reply-ok", of_call(FrameType::kReply), 24);
  ferry::internal::CallHeader reply = of_call(FrameType::kReply);
  reply.status_code = 5;
  reply.status_message = "not found";
  write_call("reply", reply, 0);
  WriteBytes(frames + "/conversation", conversation);

  // shm_fuzz scripts (see shm_fuzz.cc): descriptors of each type, well placed or not.
  if (argc >= 4) WriteShmSeeds(argv[3]);
  // mq_fuzz: a hello, an inline frame, and a frame start with its continuations.
  if (argc >= 5) WriteMqSeeds(argv[4]);
  // reflected_schema_fuzz: the binary schemas ferry's built-in services carry.
  if (argc == 6) {
    for (ferry::ServiceBinding binding :
         {ferry::FerryBind(std::make_shared<ferry::Reflection::Service>()),
          ferry::FerryBind(std::make_shared<ferry::Health::Service>())}) {
      WriteBytes(std::string(argv[5]) + "/" + std::string(binding.full_name()),
                 std::string(reinterpret_cast<const char*>(binding.schema_data()),
                             binding.schema_size()));
    }
  }
  return 0;
}
