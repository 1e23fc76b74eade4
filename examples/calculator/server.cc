// calculator_server [endpoint]: serves demo.Calculator until SIGINT or SIGTERM.
#include <signal.h>

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
