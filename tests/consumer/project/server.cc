// shop_server <endpoint>: prints "ready", serves until its stdin closes.
#include <iostream>
#include <string>
#include <thread>

#include "ferry/ferry.h"
#include "shop.ferry.h"

class PricingImpl final : public acme::shop::Pricing::Service {
  ferry::Status Quote(ferry::CallContext&, const acme::shop::PriceQuery& query,
                      ferry::Reply<acme::shop::Price>& reply) override {
    const acme::common::Money total(199 * query.quantity(), acme::common::Currency_EUR);
    reply.Finish(acme::shop::CreatePrice(reply.fbb(), &total));
    return ferry::Status::Ok();
  }
};

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  ferry::Server server;
  if (!server.Add(std::make_shared<PricingImpl>()).ok()) return 1;
  if (ferry::Status s = server.Listen(argv[1]); !s.ok()) {
    std::cerr << s << '\n';
    return 1;
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
