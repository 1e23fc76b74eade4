// calculator_client [endpoint] [--no-shm]: calls demo.Calculator and prints each call and its
// result. Over unix:// or tcp:// to a server on this host the channel moves to shared memory
// unless --no-shm is given.
#include <chrono>
#include <iostream>
#include <string>

#include "calculator.ferry.h"
#include "ferry/ferry.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://calc";
  ferry::ConnectOptions options;
  options.allow_shm = !(argc > 2 && std::string(argv[2]) == "--no-shm");

  // [call]
  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint, options);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << '\n';
    return 1;
  }
  demo::Calculator::Client calc(*channel);

  auto sum = calc.Add(2, 3);  // fields as arguments, like a local call
  if (!sum.ok()) {
    std::cerr << "client: " << sum.status() << '\n';
    return 1;
  }
  std::cout << "client: Add(2, 3) = " << (*sum)->sum() << '\n';  // read in place

  auto request = calc.NewAddRequest(/*size_hint=*/64);  // built in place in transport memory
  request.Finish(demo::CreateAddRequest(request.fbb(), 40, 2));
  auto again = calc.Add(std::move(request), {.deadline = 50ms});
  // [call]
  if (!again.ok()) {
    std::cerr << "client: " << again.status() << '\n';
    return 1;
  }
  std::cout << "client: Add(40, 2) with a 50 ms deadline = " << (*again)->sum() << '\n';

  ferry::Status logged = calc.Log(7, 8);  // oneway: no reply is sent
  std::cout << "client: Log(7, 8) (oneway) -> " << logged << '\n';

  auto countdown = calc.NewCountdownRequest();
  countdown.Finish(demo::CreateAddRequest(countdown.fbb(), 3, 0));
  std::cout << "client: Countdown (server streaming) -> " << calc.Countdown(std::move(countdown))
            << '\n';

  std::cout << "client: transport " << channel->transport() << ", payload bytes copied "
            << channel->bytes_copied() << '\n';
  return logged.ok() ? 0 : 1;
}
