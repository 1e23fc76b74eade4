// shop_client <endpoint>: one unary call; prints the total and exits 0 when it is right.
#include <iostream>

#include "ferry/ferry.h"
#include "shop.ferry.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto channel = ferry::Connect(argv[1]);
  if (!channel.ok()) {
    std::cerr << channel.status() << '\n';
    return 1;
  }
  acme::shop::Pricing::Client pricing(*channel);
  auto price = pricing.Quote("sku-42", 3);
  if (!price.ok()) {
    std::cerr << price.status() << '\n';
    return 1;
  }
  std::cout << "total " << (*price)->total()->cents() << '\n';
  acme::shop::Audit::Client audit(*channel);
  const bool unserved = audit.Count("x").status().code() == ferry::StatusCode::kUnimplemented;
  return (*price)->total()->cents() == 597 && unserved ? 0 : 1;
}
