// Signal-driven serving for the helper server processes.
#include "support/serve_until_signal.h"

#include <iostream>
#include <thread>

namespace ferry::testing {

sigset_t BlockStopSignals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  return stop;
}

int ServeUntilStopSignal(Server& server, const std::string& endpoint, const sigset_t& stop,
                         const std::string& who, std::chrono::milliseconds drain) {
  if (Status s = server.Listen(endpoint); !s.ok()) {
    std::cerr << who << ": " << s << '\n';
    return 1;
  }
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop, &signal);
    if (drain.count() > 0) {
      server.Shutdown(std::chrono::steady_clock::now() + drain);
    } else {
      server.Shutdown();
    }
  });
  std::cout << "ready " << server.endpoints().front() << std::endl;
  server.Run();
  stopper.join();
  return 0;
}

}  // namespace ferry::testing
