// Writes one valid frame of each handshake message into <handshake dir>, and call frames as
// a socket carries them into <frame dir>, as seeds for handshake_fuzz and frame_fuzz
// (random bytes rarely get past the FlatBuffers verifier on their own).
#include <cstdio>
#include <fstream>
#include <string>

#include <flatbuffers/flatbuffers.h>

#include "call/call_frame.h"
#include "ferry/protocol_generated.h"

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds <handshake dir> <frame dir>\n");
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
  // Call frames: a request with a small payload, a reply with a status, a cancel.
  const std::string frames = argv[2];
  const auto write_call = [&](const std::string& name, const ferry::internal::CallHeader& fields,
                              size_t payload) {
    const ferry::internal::EncodedHeader header(fields);
    std::string body(reinterpret_cast<const char*>(header.header().data()),
                     header.header().size());
    body.resize(header.size() + payload, '\x2a');
    const uint32_t n = static_cast<uint32_t>(body.size());
    const char length[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                            static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
    std::ofstream out(frames + "/" + name, std::ios::binary);
    out.write(length, 4);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  };
  ferry::internal::CallHeader request;
  request.call_id = 7;
  request.method_id = 0x1234abcd;
  request.deadline_us = 5000;
  write_call("request", request, 16);
  ferry::internal::CallHeader reply;
  reply.type = ferry::internal::FrameType::kReply;
  reply.call_id = 7;
  reply.status_code = 5;
  reply.status_message = "not found";
  write_call("reply", reply, 0);
  ferry::internal::CallHeader cancel;
  cancel.type = ferry::internal::FrameType::kCancel;
  cancel.call_id = 7;
  write_call("cancel", cancel, 0);
  return 0;
}
