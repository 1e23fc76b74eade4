// upload_server [endpoint]: serves upload.Uploader until SIGINT or SIGTERM. Each upload's frames
// are read in place, in the shared-memory slots the client built them in, and hashed.
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <thread>

#include "ferry/ferry.h"
#include "frame_hash.h"
#include "upload.ferry.h"

namespace {

class UploaderImpl final : public upload::Uploader::Service {
 public:
  ferry::Status Upload(ferry::CallContext& context, ferry::ServerReader<upload::Frame>& reader,
                       ferry::Reply<upload::Digest>& reply) override {
    uint64_t frames = 0, bytes = 0, hash = upload::kHashStart;
    for (auto& frame : reader) {  // until the client's Finish()
      if (frame->seq() != frames) return ferry::Status::InvalidArgument("frame out of order");
      ++frames;
      if (const auto* pixels = frame->pixels(); pixels != nullptr) {
        bytes += pixels->size();
        hash = upload::HashBytes(hash, pixels->data(), pixels->size());
      }
    }  // each frame's slot goes back to the client as the loop moves past it
    if (context.Cancelled()) return ferry::Status::Cancelled("the client gave up");
    std::cout << "server: upload of " << frames << " frames, " << bytes << " bytes, hash 0x"
              << std::hex << hash << std::dec << std::endl;
    reply.Finish(upload::CreateDigest(reply.fbb(), frames, bytes, hash));
    return ferry::Status::Ok();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://upload";
  sigset_t stop;  // handled by a thread that shuts the server down cleanly
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  ferry::Server server;
  ferry::Status status = server.Add(std::make_shared<UploaderImpl>());
  if (status.ok()) status = server.Listen(endpoint);
  if (!status.ok()) {
    std::cerr << "server: " << status << '\n';
    return 1;
  }
  std::cout << "server: listening on " << server.endpoints().front() << std::endl;
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop, &signal);
    server.Shutdown();
  });
  server.Run();
  stopper.join();
  std::cout << "server: stopped" << std::endl;
  return 0;
}
