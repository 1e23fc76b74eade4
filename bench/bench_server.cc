#include "bench_server.h"

#include <signal.h>

#include <iostream>
#include <memory>
#include <thread>

#include "bench.ferry.h"
#include "ferry/ferry.h"
#include "bench_support.h"
#include "measure.h"
#include "payload.h"
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
    reply.Finish(fb::CreateAck(reply.fbb(), LastByte(request), server_.bytes_copied()));
    return ferry::Status::Ok();
  }

  // Writes `count` messages of `payload` bytes, each built in place with only its last byte
  // written: FillByte of its number, from 1.
  ferry::Status Pull(ferry::CallContext&, const fb::PullRequest& request,
                     ferry::ServerWriter<fb::Payload>& writer) override {
    const size_t payload = static_cast<size_t>(request.payload());
    for (uint64_t n = 1; n <= request.count(); ++n) {
      auto message = writer.NewMessage(payload + kFramingBytes);
      FinishPayload(message, payload, FillByte(n));
      // Not OK: the call is over for the client, or the message could not go; the status
      // says which (and reaches the client's Finish() if it still listens).
      if (ferry::Status written = writer.Write(std::move(message)); !written.ok()) {
        return written;
      }
    }
    return ferry::Status::Ok();
  }

  // Reads every message in place (its last byte), then answers with their count.
  ferry::Status Push(ferry::CallContext&, ferry::ServerReader<fb::Payload>& reader,
                     ferry::Reply<fb::Ack>& reply) override {
    uint64_t count = 0;
    uint8_t last = 0;
    for (auto& message : reader) {
      ++count;
      last = LastByte(*message);
    }
    reply.Finish(fb::CreateAck(reply.fbb(), last, server_.bytes_copied(), count));
    return ferry::Status::Ok();
  }

  // Answers each message as it reads it.
  ferry::Status Echo(ferry::CallContext&,
                     ferry::ServerStream<fb::Payload, fb::Ack>& stream) override {
    uint64_t count = 0;
    for (auto& message : stream) {
      auto ack = stream.NewMessage(kFramingBytes);
      ack.Finish(fb::CreateAck(ack.fbb(), LastByte(*message), 0, ++count));
      if (ferry::Status written = stream.Write(std::move(ack)); !written.ok()) return written;
    }
    return ferry::Status::Ok();
  }

  // The runtime's count of copied bytes, for the stream cases to take before and after.
  ferry::Status Copied(ferry::CallContext&, const fb::Empty&,
                       ferry::Reply<fb::Ack>& reply) override {
    reply.Finish(fb::CreateAck(reply.fbb(), 0, server_.bytes_copied()));
    return ferry::Status::Ok();
  }

  // This process's CPU time, every runtime thread included, for the paced cases.
  ferry::Status ServerCpu(ferry::CallContext&, const fb::Empty&,
                          ferry::Reply<fb::CpuTime>& reply) override {
    reply.Finish(fb::CreateCpuTime(reply.fbb(), ProcessCpuNs()));
    return ferry::Status::Ok();
  }

 private:
  const ferry::Server& server_;
};

}  // namespace

int Serve(const std::string& endpoint, int cpu, uint32_t max_connections) {
  // Before any thread exists: the stop signals go to the waiting thread only, and every
  // runtime thread inherits the CPU.
  const sigset_t stop = ferry::testing::BlockStopSignals();
  if (cpu >= 0 && !TryPinToCpu(cpu)) {
    std::cerr << "ferry_bench --serve: cannot pin to CPU " << cpu << '\n';
    return 1;
  }
  ferry::ServerOptions options;
  if (max_connections > 0) {
    options.max_connections = max_connections;
    RaiseOpenFileLimit();
  }
  ferry::Server server(options);
  if (ferry::Status s = server.Add(std::make_shared<BenchService>(server)); !s.ok()) {
    std::cerr << "ferry_bench --serve: " << s << '\n';
    return 1;
  }
  return ferry::testing::ServeUntilStopSignal(server, endpoint, stop, "ferry_bench --serve");
}

}  // namespace ferry_bench
