// calculator_client [endpoint] [--no-shm]: calls every method of demo.Calculator, one of each
// kind, and prints each call and its result. Over unix:// or tcp:// to a server on this host the
// channel moves to shared memory unless --no-shm is given.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <string>

#include "calculator.ferry.h"
#include "ferry/ferry.h"

using namespace std::chrono_literals;

namespace {

// Prints the failure and returns false unless `status` is OK.
bool Check(const ferry::Status& status, const char* call) {
  if (status.ok()) return true;
  std::cerr << "client: " << call << ": " << status << '\n';
  return false;
}

}  // namespace

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
  if (!Check(again.status(), "Add")) return 1;
  std::cout << "client: Add(40, 2) with a 50 ms deadline = " << (*again)->sum() << '\n';

  // [async]
  ferry::AsyncReply<demo::AddReply> pending = calc.AddAsync(20, 22);  // returns at once
  auto async_sum = pending.Get();                                     // waits for the reply
  // [async]
  if (!Check(async_sum.status(), "AddAsync")) return 1;
  std::cout << "client: AddAsync(20, 22) = " << (*async_sum)->sum() << '\n';

  std::promise<int32_t> called_back;
  // [async callback]
  calc.AddAsync(1, 2, [&](ferry::Result<ferry::ReplyView<demo::AddReply>> sum) {
    called_back.set_value(sum.ok() ? (*sum)->sum() : -1);  // on the completion thread
  });
  // [async callback]
  std::cout << "client: AddAsync(1, 2) with a callback = " << called_back.get_future().get()
            << '\n';

  // [server streaming]
  auto countdown = calc.Countdown(3, 0);  // the server streams 3, 2, 1, 0
  std::cout << "client: Countdown(3, 0) (server streaming) ->";
  for (auto& number : countdown) std::cout << ' ' << number->sum();
  ferry::Status counted = countdown.Finish();
  // [server streaming]
  std::cout << ", " << counted << '\n';
  if (!counted.ok()) return 1;

  // [client streaming]
  auto upload = calc.Upload();
  constexpr uint64_t kFrames = 3;
  constexpr size_t kFrameBytes = 4096;
  for (uint64_t seq = 0; seq < kFrames; ++seq) {
    auto frame = upload.NewMessage(kFrameBytes + 1024);
    uint8_t* pixels = nullptr;  // the frame's bytes, written straight into the message
    auto vector = frame.fbb().CreateUninitializedVector(kFrameBytes, &pixels);
    std::fill(pixels, pixels + kFrameBytes, static_cast<uint8_t>(seq));
    frame.Finish(demo::CreateFrame(frame.fbb(), seq, vector));
    if (!upload.Write(std::move(frame)).ok()) break;  // the call ended: Finish() says why
  }
  auto uploaded = upload.Finish();
  // [client streaming]
  std::cout << "client: Upload (client streaming) of " << kFrames << " frames of "
            << kFrameBytes << " bytes -> " << uploaded.status() << '\n';
  if (!uploaded.ok()) return 1;

  // [bidi streaming]
  auto chat = calc.Chat();  // the server answers each (a, b) with the running total
  std::string sent, totals;
  for (int32_t a = 1; a <= 5; a += 2) {
    auto message = chat.NewMessage();
    message.Finish(demo::CreateAddRequest(message.fbb(), a, a + 1));
    if (!chat.Write(std::move(message)).ok()) break;  // the call ended: Finish() says why
    auto total = chat.Read();
    if (!total) break;
    sent += (sent.empty() ? "(" : ", (") + std::to_string(a) + ", " + std::to_string(a + 1) + ")";
    totals += " " + std::to_string((*total)->sum());
  }
  (void)chat.WritesDone();  // no more from us: the server's loop ends and so does the call
  ferry::Status chatted = chat.Finish();
  // [bidi streaming]
  std::cout << "client: Chat (bidi streaming) of " << sent << " -> running totals" << totals
            << ", " << chatted << '\n';
  if (!chatted.ok()) return 1;

  ferry::Status logged = calc.Log(7, 8);  // oneway: no reply is sent
  std::cout << "client: Log(7, 8) (oneway) -> " << logged << '\n';

  std::cout << "client: transport " << channel->transport() << ", payload bytes copied "
            << channel->bytes_copied() << '\n';
  return logged.ok() ? 0 : 1;
}
