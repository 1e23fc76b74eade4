// evolution_server <endpoint>: serves evo.Store as server.idl declares it; prints
// "ready <endpoint>" once listening and exits 0 on SIGTERM.
#include <iostream>

#include "ferry/ferry.h"
#include "server.ferry.h"
#include "support/serve_until_signal.h"

namespace {

ferry::Status Counted(ferry::Reply<evo::Count>& reply, uint64_t n) {
  reply.Finish(evo::CreateCount(reply.fbb(), n));
  return ferry::Status::Ok();
}

class StoreImpl final : public evo::Store::Service {
 public:
  ferry::Status Same(ferry::CallContext&, const evo::Query& query,
                     ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, static_cast<uint64_t>(query.limit()));
  }
  ferry::Status FieldAppended(ferry::CallContext&, const evo::Appended& request,
                              ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, static_cast<uint64_t>(request.a()));
  }
  ferry::Status FieldDeprecated(ferry::CallContext&, const evo::Deprecated& request,
                                ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, static_cast<uint64_t>(request.kept()));
  }
  ferry::Status ReplyFieldRetyped(ferry::CallContext&, const evo::Query&,
                                  ferry::Reply<evo::Retyped>& reply) override {
    reply.Finish(evo::CreateRetyped(reply.fbb(), 8589934596ULL));
    return ferry::Status::Ok();
  }
  ferry::Status RequestFieldRetyped(ferry::CallContext&, const evo::KeyedQuery&,
                                    ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, 1);
  }
  ferry::Status RequiredAdded(ferry::CallContext&, const evo::Owned&,
                              ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, 1);
  }
  ferry::Status ReplySwapped(ferry::CallContext&, const evo::Query&,
                             ferry::Reply<evo::Reply1>& reply) override {
    reply.Finish(evo::CreateReply1(reply.fbb(), 1));
    return ferry::Status::Ok();
  }
  ferry::Status ServerOnly(ferry::CallContext&, const evo::Query&,
                           ferry::Reply<evo::Count>& reply) override {
    return Counted(reply, 1);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: evolution_server <endpoint>\n";
    return 2;
  }
  const sigset_t stop = ferry::testing::BlockStopSignals();
  ferry::Server server;
  if (!server.Add(std::make_shared<StoreImpl>()).ok()) return 1;
  return ferry::testing::ServeUntilStopSignal(server, argv[1], stop, "evolution_server");
}
