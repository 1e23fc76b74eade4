// chat_client [endpoint] [line...]: talks to chat.Parrot: sends each line (a few of its own when
// none are given) and prints the answer to each, then says it is done (WritesDone), reads the
// server's last word and finishes the call.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "chat.ferry.h"
#include "ferry/ferry.h"

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://chat";
  std::vector<std::string> lines(argv + std::min(argc, 2), argv + argc);
  if (lines.empty()) lines = {"hello", "streams both ways", "in place"};

  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << '\n';
    return 1;
  }
  chat::Parrot::Client parrot(*channel);

  auto talk = parrot.Talk();
  for (uint32_t seq = 0; seq < lines.size(); ++seq) {
    auto line = talk.NewMessage(lines[seq].size() + 64);
    line.Finish(chat::CreateLine(line.fbb(), seq, line.fbb().CreateString(lines[seq])));
    std::cout << "client: > " << lines[seq] << '\n';
    if (!talk.Write(std::move(line)).ok()) break;  // the call has ended: Finish() says why
    auto answer = talk.Read();
    if (!answer) break;
    std::cout << "client: < " << flatbuffers::GetStringView((*answer)->text()) << '\n';
  }
  // Half-closes the call: the server's read loop ends, and its messages keep coming.
  (void)talk.WritesDone();
  for (auto& last : talk) {
    std::cout << "client: < " << flatbuffers::GetStringView(last->text()) << '\n';
  }
  ferry::Status status = talk.Finish();
  std::cout << "client: Finish() = " << status << '\n';
  return status.ok() ? 0 : 1;
}
