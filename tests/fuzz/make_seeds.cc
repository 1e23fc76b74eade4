// Writes one valid frame of each handshake message into <dir>, as seeds for handshake_fuzz
// (random bytes rarely get past the FlatBuffers verifier on their own).
#include <cstdio>
#include <fstream>
#include <string>

#include <flatbuffers/flatbuffers.h>

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
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <dir>\n");
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
  }
  return 0;
}
