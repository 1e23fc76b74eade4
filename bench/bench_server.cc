#include "bench_server.h"

#include <signal.h>

#include <iostream>
#include <memory>
#include <thread>

#include "bench.ferry.h"
#include "ferry/ferry.h"
#include "bench_support.h"
#include "support/serve_until_signal.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;

class BenchService final : public fb::Bench::Service {
 public:
  explicit BenchService(const ferry::Server& server) : server_(server) {}

  // Reads the payload in place, touching only its last byte, and answers with that byte and
  // the runtime's count of copied reply bytes.
  ferry::Status Send(ferry::CallContext&, const fb::Payload& request,
                     ferry::Reply<fb::Ack>& reply) override {
    uint8_t last = 0;
    if (const auto* data = request.data(); data != nullptr && data->size() > 0) {
      last = *static_cast<const volatile uint8_t*>(data->data() + data->size() - 1);
    }
    reply.Finish(fb::CreateAck(reply.fbb(), last, server_.bytes_copied()));
    return ferry::Status::Ok();
  }

 private:
  const ferry::Server& server_;
};

}  // namespace

int Serve(const std::string& endpoint, int cpu) {
  // Before any thread exists: the stop signals go to the waiting thread only, and every
  // runtime thread inherits the CPU.
  const sigset_t stop = ferry::testing::BlockStopSignals();
  if (!TryPinToCpu(cpu)) {
    std::cerr << "ferry_bench --serve: cannot pin to CPU " << cpu << '\n';
    return 1;
  }
  ferry::Server server;
  if (ferry::Status s = server.Add(std::make_shared<BenchService>(server)); !s.ok()) {
    std::cerr << "ferry_bench --serve: " << s << '\n';
    return 1;
  }
  return ferry::testing::ServeUntilStopSignal(server, endpoint, stop, "ferry_bench --serve");
}

}  // namespace ferry_bench
