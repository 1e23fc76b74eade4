// evolution_client [--no-shm] <endpoint>: calls every method of evo.Store as client.idl declares
// it, on a server built from server.idl, and checks what each call gets: compatible differences
// work, incompatible ones fail with a status that names the method and the types. Prints one line
// per failed expectation and exits 0 only when every expectation held.
#include <iostream>
#include <string>

#include "client.ferry.h"
#include "ferry/ferry.h"

namespace {

int failures = 0;

void Expect(bool ok, const std::string& what) {
  if (ok) return;
  std::cout << "FAIL " << what << std::endl;
  ++failures;
}

// A status with `code` whose message holds every one of `parts`.
void ExpectStatus(const ferry::Status& status, ferry::StatusCode code,
                  std::initializer_list<std::string> parts, const std::string& what) {
  bool ok = status.code() == code;
  for (const std::string& part : parts) ok = ok && status.message().find(part) != std::string::npos;
  Expect(ok, what + ": got " + status.ToString());
}

}  // namespace

int main(int argc, char** argv) {
  ferry::ConnectOptions options;
  if (argc == 3 && std::string(argv[1]) == "--no-shm") {
    options.allow_shm = false;  // calls (and checks) travel on the socket
  } else if (argc != 2) {
    std::cerr << "usage: evolution_client [--no-shm] <endpoint>\n";
    return 2;
  }
  ferry::Result<ferry::Channel> channel = ferry::Connect(argv[argc - 1], options);
  if (!channel.ok()) {
    std::cout << "FAIL connect: " << channel.status() << std::endl;
    return 1;
  }
  evo::Store::Client store(*channel);
  using ferry::StatusCode;
  for (int round = 0; round < 2; ++round) {  // the verdicts hold for later calls too
    const std::string r = " (call " + std::to_string(round + 1) + ")";
    auto same = store.Same("k", 7);
    Expect(same.ok() && (*same)->n() == 7, "Same" + r + ": " + same.status().ToString());
    auto appended = store.FieldAppended(5, "new");
    Expect(appended.ok() && (*appended)->n() == 5,
           "FieldAppended" + r + ": " + appended.status().ToString());
    auto deprecated = store.FieldDeprecated(9);
    Expect(deprecated.ok() && (*deprecated)->n() == 9,
           "FieldDeprecated" + r + ": " + deprecated.status().ToString());
    ExpectStatus(store.ReplyFieldRetyped("k", 1).status(), StatusCode::kFailedPrecondition,
                 {"evo.Store.ReplyFieldRetyped", "evo.Retyped", "ulong", "string"},
                 "ReplyFieldRetyped" + r);
    ExpectStatus(store.RequestFieldRetyped(int64_t{4}).status(), StatusCode::kFailedPrecondition,
                 {"evo.Store.RequestFieldRetyped", "evo.KeyedQuery", "long", "string"},
                 "RequestFieldRetyped" + r);
    ExpectStatus(store.RequiredAdded(int64_t{10}).status(), StatusCode::kFailedPrecondition,
                 {"evo.Store.RequiredAdded", "evo.Owned", "owner", "required"},
                 "RequiredAdded" + r);
    ExpectStatus(store.ReplySwapped("k", 1).status(), StatusCode::kFailedPrecondition,
                 {"evo.Store.ReplySwapped", "evo.Reply1", "evo.Reply2"}, "ReplySwapped" + r);
    ExpectStatus(store.ClientOnly("k", 1).status(), StatusCode::kUnimplemented,
                 {"evo.Store.ClientOnly", "evo.Store"}, "ClientOnly" + r);
    ExpectStatus(store.ClientOnlyOneway("k", 1), StatusCode::kUnimplemented,
                 {"evo.Store.ClientOnlyOneway"}, "ClientOnlyOneway" + r);
  }
  return failures == 0 ? 0 : 1;
}
