// calculator_server [endpoint]: serves demo.Calculator until SIGINT or SIGTERM.
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <thread>

#include "calculator.ferry.h"
#include "ferry/ferry.h"

// [implement service]
class CalculatorImpl final : public demo::Calculator::Service {
 public:
  ferry::Status Add(ferry::CallContext&, const demo::AddRequest& request,
                    ferry::Reply<demo::AddReply>& reply) override {
    reply.Finish(demo::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return ferry::Status::Ok();
  }

  // Streams a, a - 1, ..., b.
  ferry::Status Countdown(ferry::CallContext&, const demo::AddRequest& request,
                          ferry::ServerWriter<demo::AddReply>& writer) override {
    for (int32_t n = request.a(); n >= request.b(); --n) {
      auto message = writer.NewMessage();
      message.Finish(demo::CreateAddReply(message.fbb(), n));
      // Not OK once the client is gone, cancelled or past its deadline: stop.
      if (ferry::Status s = writer.Write(std::move(message)); !s.ok()) return s;
    }
    return ferry::Status::Ok();  // ends the stream
  }

  // Reads every frame in place, where the client built it.
  ferry::Status Upload(ferry::CallContext&, ferry::ServerReader<demo::Frame>& reader,
                       ferry::Reply<demo::Empty>& reply) override {
    uint64_t frames = 0, bytes = 0;
    for (auto& frame : reader) {
      ++frames;
      bytes += frame->pixels() != nullptr ? frame->pixels()->size() : 0;
    }
    std::cout << "server: upload of " << frames << " frames, " << bytes << " bytes" << std::endl;
    reply.Finish(demo::CreateEmpty(reply.fbb()));
    return ferry::Status::Ok();
  }

  // Answers each (a, b) with the running total of every a + b so far.
  ferry::Status Chat(ferry::CallContext&,
                     ferry::ServerStream<demo::AddRequest, demo::AddReply>& stream) override {
    int32_t total = 0;
    for (auto& request : stream) {  // until the client's WritesDone()
      total += request->a() + request->b();
      auto message = stream.NewMessage();
      message.Finish(demo::CreateAddReply(message.fbb(), total));
      if (ferry::Status s = stream.Write(std::move(message)); !s.ok()) return s;
    }
    return ferry::Status::Ok();
  }

  ferry::Status Log(ferry::CallContext&, const demo::AddRequest& request) override {
    std::cout << "server: log " << request.a() << ", " << request.b() << std::endl;
    return ferry::Status::Ok();
  }
};
// [implement service]

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://calc";
  // Stop signals are handled by a thread that shuts the server down cleanly.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // [run server]
  ferry::Server server;
  if (ferry::Status s = server.Add(std::make_shared<CalculatorImpl>()); !s.ok()) {
    std::cerr << "server: " << s << '\n';
    return 1;
  }
  if (ferry::Status s = server.Listen(endpoint); !s.ok()) {
    std::cerr << "server: " << s << '\n';
    return 1;
  }
  // As bound: "tcp://127.0.0.1:0" shows the port the system picked.
  std::cout << "server: listening on " << server.endpoints().front() << std::endl;
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop, &signal);
    server.Shutdown();
  });
  server.Run();
  // [run server]
  stopper.join();
  std::cout << "server: stopped" << std::endl;
  return 0;
}
