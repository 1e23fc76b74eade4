// shop_server <endpoint>...: serves acme.shop.Pricing (not Audit) on every endpoint given;
// prints "ready" once it listens on all of them and serves until its stdin closes.
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "ferry/ferry.h"
#include "inventory.ferry.h"
#include "shop.ferry.h"

namespace {

constexpr long kUnitCents = 199;

class PricingImpl final : public acme::shop::Pricing::Service {
 public:
  // The price of `quantity` units.
  ferry::Status Quote(ferry::CallContext&, const acme::shop::PriceQuery& query,
                      ferry::Reply<acme::shop::Price>& reply) override {
    const acme::common::Money total(kUnitCents * query.quantity(), acme::common::Currency_EUR);
    reply.Finish(acme::shop::CreatePrice(reply.fbb(), &total));
    return ferry::Status::Ok();
  }

  // The price of 1, 2, ... `quantity` units, one message each; quantity 0 streams until the
  // client cancels, and records "cancelled:<sku>" when it does.
  ferry::Status Watch(ferry::CallContext& context, const acme::shop::PriceQuery& query,
                      ferry::ServerWriter<acme::shop::Price>& writer) override {
    for (long n = 1; query.quantity() == 0 || n <= query.quantity(); ++n) {
      auto message = writer.NewMessage();
      const acme::common::Money total(kUnitCents * n, acme::common::Currency_EUR);
      message.Finish(acme::shop::CreatePrice(message.fbb(), &total));
      if (!writer.Write(std::move(message)).ok()) break;  // the client cancelled or left
      if (query.quantity() == 0 &&
          context.WaitForCancel(std::chrono::steady_clock::now() + std::chrono::milliseconds(1))) {
        break;
      }
    }
    if (context.Cancelled()) {
      Remember("cancelled:" + Sku(query));
      return ferry::Status::Cancelled("the watcher left");  // reaches nobody
    }
    return ferry::Status::Ok();
  }

  // The total of every query's units; a negative quantity fails the call.
  ferry::Status Bulk(ferry::CallContext&, ferry::ServerReader<acme::shop::PriceQuery>& reader,
                     ferry::Reply<acme::shop::Price>& reply) override {
    long units = 0;
    for (auto& query : reader) {
      if (query->quantity() < 0) {
        return ferry::Status::InvalidArgument("negative quantity for " + Sku(*query));
      }
      units += query->quantity();
    }
    const acme::common::Money total(kUnitCents * units, acme::common::Currency_EUR);
    reply.Finish(acme::shop::CreatePrice(reply.fbb(), &total));
    return ferry::Status::Ok();
  }

  // Answers each query with the running total so far.
  ferry::Status Haggle(
      ferry::CallContext&,
      ferry::ServerStream<acme::shop::PriceQuery, acme::shop::Price>& stream) override {
    long units = 0;
    for (auto& query : stream) {
      units += query->quantity();
      auto message = stream.NewMessage();
      const acme::common::Money total(kUnitCents * units, acme::common::Currency_EUR);
      message.Finish(acme::shop::CreatePrice(message.fbb(), &total));
      if (ferry::Status s = stream.Write(std::move(message)); !s.ok()) return s;
    }
    return ferry::Status::Ok();
  }

  ferry::Status Record(ferry::CallContext&, const acme::shop::Event& event) override {
    Remember(event.name() != nullptr ? event.name()->str() : "");
    return ferry::Status::Ok();
  }

  ferry::Status Recorded(ferry::CallContext&, const acme::shop::Event& event,
                         ferry::Reply<acme::common::Ack>& reply) override {
    bool seen = false;
    {
      std::lock_guard lock(mutex_);
      seen = events_.count(event.name() != nullptr ? event.name()->str() : "") != 0;
    }
    reply.Finish(acme::common::CreateAck(reply.fbb(), seen));
    return ferry::Status::Ok();
  }

 private:
  static std::string Sku(const acme::shop::PriceQuery& query) {
    return query.sku() != nullptr ? query.sku()->str() : "";
  }
  void Remember(std::string event) {
    std::lock_guard lock(mutex_);
    events_.insert(std::move(event));
  }

  std::mutex mutex_;
  std::set<std::string> events_;
};

// Ten units of every sku are in stock.
class InventoryImpl final : public acme::inventory::Inventory::Service {
 public:
  ferry::Status InStock(ferry::CallContext&, const acme::inventory::Item& item,
                        ferry::Reply<acme::common::Ack>& reply) override {
    reply.Finish(acme::common::CreateAck(reply.fbb(), item.count() <= 10));
    return ferry::Status::Ok();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  ferry::Server server;
  if (!server.Add(std::make_shared<PricingImpl>()).ok() ||
      !server.Add(std::make_shared<InventoryImpl>()).ok()) {
    return 1;
  }
  for (int i = 1; i < argc; ++i) {
    if (ferry::Status s = server.Listen(argv[i]); !s.ok()) {
      std::cerr << "shop_server: " << argv[i] << ": " << s << '\n';
      return 1;
    }
  }
  std::cout << "ready" << std::endl;
  std::thread stopper([&] {
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    server.Shutdown();
  });
  server.Run();
  stopper.join();
  return 0;
}
