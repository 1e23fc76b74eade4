// chat_server [endpoint]: serves chat.Parrot until SIGINT or SIGTERM. Talk answers each line
// with its number and the line upper-cased, and says goodbye once the client is done writing.
#include <signal.h>

#include <cctype>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>

#include "chat.ferry.h"
#include "ferry/ferry.h"

namespace {

class ParrotImpl final : public chat::Parrot::Service {
 public:
  ferry::Status Talk(ferry::CallContext&,
                     ferry::ServerStream<chat::Line, chat::Line>& stream) override {
    uint32_t heard = 0;
    for (auto& line : stream) {  // each line as it comes, until the client's WritesDone()
      std::string text = flatbuffers::GetString(line->text());
      for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ++heard;
      if (!Say(stream, line->seq(), std::to_string(heard) + ": " + text).ok()) {
        return ferry::Status::Ok();  // the client is gone: nobody to answer
      }
    }
    // The client is done writing; this side may still write before it ends the call.
    std::cout << "server: a chat of " << heard << " lines ended" << std::endl;
    (void)Say(stream, heard, "heard " + std::to_string(heard) + " lines, bye");
    return ferry::Status::Ok();
  }

 private:
  static ferry::Status Say(ferry::ServerStream<chat::Line, chat::Line>& stream, uint32_t seq,
                           const std::string& text) {
    auto reply = stream.NewMessage(text.size() + 64);
    reply.Finish(chat::CreateLine(reply.fbb(), seq, reply.fbb().CreateString(text)));
    return stream.Write(std::move(reply));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://chat";
  sigset_t stop;  // handled by a thread that shuts the server down cleanly
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  ferry::Server server;
  ferry::Status status = server.Add(std::make_shared<ParrotImpl>());
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
