// shop_client <endpoint> <expected transport> [--no-shm]: calls every kind of method of
// acme.shop.Pricing (sync and async unary, server, client and bidi streaming, oneway, a
// cancelled stream and a failing one) and checks each result. Prints each failure; exits 0
// only when everything was right.
#include <unistd.h>

#include <chrono>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/ferry.h"
#include "inventory.ferry.h"
#include "shop.ferry.h"

// inventory_api passes --gen-object-api to flatc (FLATC_ARGS): its native types exist.
static_assert(sizeof(acme::inventory::ItemT) > 0);

using namespace std::chrono_literals;

namespace {

constexpr long kUnitCents = 199;
// Bounds every stream, so that a server that misbehaves fails a check instead of hanging.
constexpr ferry::CallOptions kStreamOptions{.deadline = 30s};

int failures = 0;

// Counts and prints a failed check.
bool Expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cerr << "shop_client: FAILED: " << what << '\n';
  }
  return ok;
}

bool ExpectOk(const ferry::Status& status, const std::string& what) {
  return Expect(status.ok(), what + ": " + status.ToString());
}

bool ExpectTotal(const acme::shop::Price& price, long cents, const std::string& what) {
  const long got = price.total() != nullptr ? price.total()->cents() : -1;
  return Expect(got == cents && price.total()->currency() == acme::common::Currency_EUR,
                what + ": total " + std::to_string(got) + ", expected " + std::to_string(cents));
}

// Asks until the server has `event` (a oneway call's handler runs after the call returned).
bool EventuallyRecorded(const acme::shop::Pricing::Client& pricing, const std::string& event) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    auto ack = pricing.Recorded(event);
    if (!ExpectOk(ack.status(), "Recorded(" + event + ")")) return false;
    if ((*ack)->ok()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return Expect(false, "the server never recorded " + event);
}

void Unary(const acme::shop::Pricing::Client& pricing, const ferry::Channel& channel) {
  auto price = pricing.Quote("sku-42", 3);
  if (ExpectOk(price.status(), "Quote")) ExpectTotal(**price, 3 * kUnitCents, "Quote");

  auto request = pricing.NewQuoteRequest(/*size_hint=*/128);
  request.Finish(acme::shop::CreatePriceQueryDirect(request.fbb(), "sku-43", 4));
  auto built = pricing.Quote(std::move(request), {.deadline = 5s});
  if (ExpectOk(built.status(), "Quote (built request)")) {
    ExpectTotal(**built, 4 * kUnitCents, "Quote (built request)");
  }

  // A service the server does not serve.
  acme::shop::Audit::Client audit(channel);
  Expect(audit.Count("x").status().code() == ferry::StatusCode::kUnimplemented,
         "Audit.Count: expected UNIMPLEMENTED");

  // A service of another schema (and another ferry_add_idl target) on the same channel.
  acme::inventory::Inventory::Client inventory(channel);
  auto in_stock = inventory.InStock("bolt", 3);
  if (ExpectOk(in_stock.status(), "InStock(3)")) Expect((*in_stock)->ok(), "InStock(3): not ok");
  auto too_many = inventory.InStock("bolt", 11);
  if (ExpectOk(too_many.status(), "InStock(11)")) {
    Expect(!(*too_many)->ok(), "InStock(11): ok");
  }
}

void Async(const acme::shop::Pricing::Client& pricing) {
  // Several in flight at once, then their results.
  std::vector<ferry::AsyncReply<acme::shop::Price>> pending;
  for (int quantity = 1; quantity <= 8; ++quantity) {
    pending.push_back(pricing.QuoteAsync("sku-async", quantity));
  }
  for (int quantity = 1; quantity <= 8; ++quantity) {
    auto& reply = pending[quantity - 1];
    Expect(reply.Wait(std::chrono::steady_clock::now() + 10s), "QuoteAsync: no reply in 10 s");
    auto price = reply.Get();
    if (ExpectOk(price.status(), "QuoteAsync")) {
      ExpectTotal(**price, quantity * kUnitCents, "QuoteAsync " + std::to_string(quantity));
    }
  }

  // With a callback, on the channel's completion thread.
  std::promise<long> called;
  auto request = pricing.NewQuoteRequest();
  request.Finish(acme::shop::CreatePriceQueryDirect(request.fbb(), "sku-callback", 5));
  pricing.QuoteAsync(
      std::move(request), [&called](ferry::Result<ferry::ReplyView<acme::shop::Price>> price) {
        called.set_value(price.ok() && (*price)->total() != nullptr ? (*price)->total()->cents()
                                                                    : -1);
      });
  auto result = called.get_future();
  if (Expect(result.wait_for(10s) == std::future_status::ready,
             "QuoteAsync: the callback did not run in 10 s")) {
    const long cents = result.get();
    Expect(cents == 5 * kUnitCents, "QuoteAsync callback: total " + std::to_string(cents));
  }
}

void ServerStreaming(const acme::shop::Pricing::Client& pricing, const std::string& tag) {
  // More messages than the stream's window (64): the server waits for the reader.
  constexpr int kCount = 200;
  auto watch = pricing.Watch("sku-watch", kCount, kStreamOptions);
  int n = 0;
  for (auto& price : watch) {
    ++n;
    if (!ExpectTotal(*price, n * kUnitCents, "Watch message " + std::to_string(n))) {
      watch.Cancel();  // else the server waits for us to read the rest
      break;
    }
  }
  ExpectOk(watch.Finish(), "Watch");
  Expect(n == kCount,
         "Watch: " + std::to_string(n) + " messages, expected " + std::to_string(kCount));

  // An endless one, cancelled after a few messages: the server learns of it.
  auto endless = pricing.Watch(tag, 0, kStreamOptions);
  for (int i = 1; i <= 3; ++i) {
    auto price = endless.Read();
    if (!Expect(price.has_value(), "endless Watch: message " + std::to_string(i))) break;
    ExpectTotal(**price, i * kUnitCents, "endless Watch message " + std::to_string(i));
  }
  endless.Cancel();
  const ferry::Status cancelled = endless.Finish();
  Expect(cancelled.code() == ferry::StatusCode::kCancelled,
         "endless Watch after Cancel(): " + cancelled.ToString());
  EventuallyRecorded(pricing, "cancelled:" + tag);
}

void ClientStreaming(const acme::shop::Pricing::Client& pricing) {
  constexpr int kCount = 200;
  auto bulk = pricing.Bulk(kStreamOptions);
  long units = 0;
  for (int i = 0; i < kCount; ++i) {
    auto message = bulk.NewMessage(128);
    message.Finish(acme::shop::CreatePriceQueryDirect(message.fbb(), "sku-bulk", i % 5 + 1));
    units += i % 5 + 1;
    if (!ExpectOk(bulk.Write(std::move(message)), "Bulk write " + std::to_string(i))) break;
  }
  auto total = bulk.Finish();
  if (ExpectOk(total.status(), "Bulk")) ExpectTotal(**total, units * kUnitCents, "Bulk");

  // The handler's error reaches Finish(), code and message.
  auto bad = pricing.Bulk(kStreamOptions);
  auto message = bad.NewMessage();
  message.Finish(acme::shop::CreatePriceQueryDirect(message.fbb(), "bad-sku", -1));
  (void)bad.Write(std::move(message));  // may fail if the server has already answered
  auto refused = bad.Finish();
  Expect(refused.status().code() == ferry::StatusCode::kInvalidArgument &&
             refused.status().message().find("negative quantity for bad-sku") != std::string::npos,
         "Bulk with a negative quantity: " + refused.status().ToString());
}

void Bidi(const acme::shop::Pricing::Client& pricing) {
  auto haggle = pricing.Haggle(kStreamOptions);
  long units = 0;
  for (int quantity = 1; quantity <= 5; ++quantity) {
    auto message = haggle.NewMessage();
    message.Finish(acme::shop::CreatePriceQueryDirect(message.fbb(), "sku-haggle", quantity));
    if (!ExpectOk(haggle.Write(std::move(message)), "Haggle write")) break;
    units += quantity;
    auto running = haggle.Read();
    if (!Expect(running.has_value(), "Haggle: no answer to " + std::to_string(quantity))) break;
    ExpectTotal(**running, units * kUnitCents, "Haggle running total");
  }
  ExpectOk(haggle.WritesDone(), "Haggle WritesDone");
  Expect(!haggle.Read().has_value(), "Haggle: a message after WritesDone");
  ExpectOk(haggle.Finish(), "Haggle");
}

void Oneway(const acme::shop::Pricing::Client& pricing, const std::string& tag) {
  const std::string event = "order:" + tag;
  if (ExpectOk(pricing.Record(event), "Record (oneway)")) EventuallyRecorded(pricing, event);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: shop_client <endpoint> <expected transport> [--no-shm]\n";
    return 2;
  }
  ferry::ConnectOptions options;
  options.allow_shm = !(argc == 4 && std::string(argv[3]) == "--no-shm");
  auto channel = ferry::Connect(argv[1], options);
  if (!channel.ok()) {
    std::cerr << "shop_client: " << channel.status() << '\n';
    return 1;
  }
  Expect(channel->transport() == argv[2],
         "transport " + std::string(channel->transport()) + ", expected " + argv[2]);
  // Names this run's events apart from those of other clients of the same server.
  const std::string tag = std::string(argv[2]) + "-" + std::to_string(getpid());

  acme::shop::Pricing::Client pricing(*channel);
  Unary(pricing, *channel);
  Async(pricing);
  ServerStreaming(pricing, tag);
  ClientStreaming(pricing);
  Bidi(pricing);
  Oneway(pricing, tag);

  std::cout << "shop_client: " << argv[1] << " over " << channel->transport() << ": "
            << (failures == 0 ? "all checks passed" : std::to_string(failures) + " failed") << '\n';
  return failures == 0 ? 0 : 1;
}
