// ferry_test_client [--no-shm] <endpoint> <mode> [count]: a separate client process for the
// end-to-end tests (--no-shm: stay on a unix:// or tcp:// socket). Modes:
//   add <n>   n Add calls with distinct operands, each result checked; exit 0 when all match
//   block     prints "connected", then makes a Block call (to be killed while it waits)
//   transport <n>  n Add calls as for add, then prints the transport the channel ended on
//   watch     opens an endless Watch stream, prints "streaming" after its first message, then
//             reads on (to be killed mid-stream)
#include <iostream>
#include <string>
#include <utility>

#include "ferry/ferry.h"
#include "test_service.ferry.h"

namespace ft = ferry::test;

int main(int argc, char** argv) {
  ferry::ConnectOptions options;
  if (argc > 1 && std::string(argv[1]) == "--no-shm") {
    options.allow_shm = false;
    --argc;
    ++argv;
  }
  if (argc < 3) {
    std::cerr << "usage: ferry_test_client [--no-shm] <endpoint> add <n> | block\n";
    return 2;
  }
  ferry::Result<ferry::Channel> channel = ferry::Connect(argv[1], options);
  if (!channel.ok()) {
    std::cerr << channel.status() << '\n';
    return 1;
  }
  ft::TestService::Client client(*channel);
  const std::string mode = argv[2];
  if ((mode == "add" || mode == "transport") && argc == 4) {
    const int n = std::stoi(argv[3]);
    const int base = static_cast<int>(getpid()) % 100000;
    for (int i = 0; i < n; ++i) {
      auto sum = client.Add(base, i);
      if (!sum.ok() || (*sum)->sum() != base + i) {
        std::cerr << "call " << i << " failed: " << sum.status() << '\n';
        return 1;
      }
    }
    if (mode == "transport") std::cout << channel->transport() << std::endl;
    return 0;
  }
  if (mode == "block") {
    std::cout << "connected" << std::endl;
    auto request = client.NewBlockRequest();
    request.Finish(ft::CreateEmpty(request.fbb()));
    auto blocked = client.Block(std::move(request));
    std::cerr << "Block returned " << blocked.status() << '\n';
    return 1;
  }
  if (mode == "watch") {
    auto request = client.NewWatchRequest();
    request.Finish(ft::CreateAddRequest(request.fbb(), -1, 0));
    auto stream = client.Watch(std::move(request));
    bool first = true;
    for (auto& message : stream) {
      (void)message;
      if (std::exchange(first, false)) std::cout << "streaming" << std::endl;
    }
    std::cerr << "Watch ended: " << stream.Finish() << '\n';
    return 1;
  }
  std::cerr << "unknown mode " << mode << '\n';
  return 2;
}
