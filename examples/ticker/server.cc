// ticker_server [endpoint]: serves ticker.Ticker until SIGINT or SIGTERM. Each Watch streams
// ticks numbered from 0, stamped with the time they were written.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <thread>

#include "ferry/ferry.h"
#include "ticker.ferry.h"

namespace {

int64_t UnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class TickerImpl final : public ticker::Ticker::Service {
 public:
  // Streams `count` ticks (0: until the client cancels), one per `period_us` (0: as fast as
  // the client reads them; the stream's window holds the writer back).
  ferry::Status Watch(ferry::CallContext& context, const ticker::Subscribe& subscribe,
                      ferry::ServerWriter<ticker::Tick>& writer) override {
    const std::chrono::microseconds period(subscribe.period_us());
    auto next = std::chrono::steady_clock::now();
    uint64_t seq = 0;
    for (; subscribe.count() == 0 || seq < subscribe.count(); ++seq) {
      if (period.count() > 0) {
        // Sleeps until the next tick, but wakes at once if the client cancels.
        if (context.WaitForCancel(next += period)) break;
      }
      auto tick = writer.NewMessage();
      tick.Finish(ticker::CreateTick(tick.fbb(), seq, UnixNanos()));
      if (!writer.Write(std::move(tick)).ok()) break;  // the client cancelled or went away
    }
    if (context.Cancelled()) {
      std::cout << "server: a watcher left after " << seq << " ticks" << std::endl;
      return ferry::Status::Cancelled("the watcher left");  // reaches nobody
    }
    std::cout << "server: streamed " << seq << " ticks" << std::endl;
    return ferry::Status::Ok();  // ends the stream
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://ticker";
  sigset_t stop;  // handled by a thread that shuts the server down cleanly
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  ferry::Server server;
  ferry::Status status = server.Add(std::make_shared<TickerImpl>());
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
