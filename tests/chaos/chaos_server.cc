// ferry_chaos_server [--no-shm] <endpoint>: serves ChaosService; prints "ready <endpoint>"
// once listening and exits 0 on SIGTERM or SIGINT after a clean shutdown. --no-shm: keep
// unix:// and tcp:// clients on the socket.
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "chaos_service.ferry.h"
#include "ferry/ferry.h"
#include "support/serve_until_signal.h"

namespace {

namespace fc = ferry::chaos;

// Larger than anything the load asks for; a bigger request is a bug in the load.
constexpr uint64_t kMaxReplyBytes = 16 << 20;

class ChaosServiceImpl final : public fc::ChaosService::Service {
 public:
  ferry::Status Echo(ferry::CallContext&, const fc::Payload& request,
                     ferry::Reply<fc::Payload>& reply) override {
    if (const auto* data = request.data(); data != nullptr) {
      const uint8_t fill = request.fill();
      for (uint8_t byte : *data) {
        if (byte != fill) return ferry::Status::DataLoss("request bytes damaged");
      }
    }
    if (request.reply_bytes() > kMaxReplyBytes) {
      return ferry::Status::InvalidArgument("reply_bytes too large");
    }
    const size_t size = static_cast<size_t>(request.reply_bytes());
    reply.Reserve(size + 256);
    uint8_t* bytes = nullptr;
    auto data = reply.fbb().CreateUninitializedVector(size, &bytes);
    std::memset(bytes, static_cast<uint8_t>(request.fill() + 1), size);
    reply.Finish(fc::CreatePayload(reply.fbb(), request.seq(), 0, 0, data));
    return ferry::Status::Ok();
  }
};

}  // namespace

int main(int argc, char** argv) {
  ferry::ServerOptions options;
  if (argc == 3 && std::string(argv[1]) == "--no-shm") {
    options.allow_shm = false;
    --argc;
    ++argv;
  }
  if (argc != 2) {
    std::cerr << "usage: ferry_chaos_server [--no-shm] <endpoint>\n";
    return 2;
  }
  const sigset_t stop = ferry::testing::BlockStopSignals();
  ferry::Server server(options);
  if (ferry::Status s = server.Add(std::make_shared<ChaosServiceImpl>()); !s.ok()) {
    std::cerr << s << '\n';
    return 1;
  }
  return ferry::testing::ServeUntilStopSignal(server, argv[1], stop, "ferry_chaos_server");
}
