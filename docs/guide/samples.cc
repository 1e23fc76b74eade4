// The samples docs/guide.md quotes, as one program that also checks them: a shop::Inventory
// server on shared memory and a client calling every kind of method, in one process. The
// build runs it (Docs.GuideSamplesRun); it exits non-zero when a call does not do what the
// guide says.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/ferry.h"
#include "ferry/reflection.ferry.h"
#include "inventory.ferry.h"

using namespace std::chrono_literals;

namespace {

// Lines that other threads add (log records, audit events), and a way to wait for one.
class Lines {
 public:
  void Add(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
    added_.notify_all();
  }
  // True once a line containing `text` is in, waiting for it until `until`.
  bool WaitFor(std::string_view text, std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(mutex_);
    return added_.wait_until(lock, until, [&] {
      for (const std::string& line : lines_) {
        if (line.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
  std::vector<std::string> All() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable added_;
  std::vector<std::string> lines_;
};

class InventoryImpl final : public shop::Inventory::Service {
 public:
  InventoryImpl(std::map<std::string, int64_t> stock, Lines& audit_trail)
      : stock_(std::move(stock)), audit_trail_(audit_trail) {}

  // [lookup]
  // Reads the request in place and builds the reply in place, in transport memory.
  ferry::Status Lookup(ferry::CallContext&, const shop::ItemQuery& query,
                       ferry::Reply<shop::Item>& reply) override {
    const std::string sku = flatbuffers::GetString(query.sku());  // "" when absent
    std::lock_guard lock(mutex_);
    auto item = stock_.find(sku);
    if (item == stock_.end()) return ferry::Status::NotFound("no item " + sku);
    reply.Finish(shop::CreateItemDirect(reply.fbb(), sku.c_str(), item->second));
    return ferry::Status::Ok();
  }
  // [lookup]

  // [await stock]
  // Answers at once when the item is in stock; otherwise defers the reply until a delivery
  // brings it (Receive), or drops it when the client gives up.
  ferry::Status AwaitStock(ferry::CallContext& ctx, const shop::ItemQuery& query,
                           ferry::Reply<shop::Item>& reply) override {
    const std::string sku = flatbuffers::GetString(query.sku());  // the request goes on return
    uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      if (auto item = stock_.find(sku); item != stock_.end() && item->second > 0) {
        reply.Finish(shop::CreateItemDirect(reply.fbb(), sku.c_str(), item->second));
        return ferry::Status::Ok();
      }
      id = next_waiter_++;
      waiters_.emplace(id, Waiter{sku, reply.Defer()});
    }
    // The client cancelled or its deadline passed (it sends a cancel then). Runs at once, on
    // this thread, when that has happened already: so registered without mutex_ held.
    ctx.OnCancel([this, id] {
      std::unique_lock lock(mutex_);
      auto waiter = waiters_.extract(id);
      lock.unlock();
      if (!waiter.empty()) waiter.mapped().reply.Send(ferry::Status::Cancelled("gave up"));
    });
    return ferry::Status::Ok();  // ignored once the reply is deferred
  }
  // [await stock]

  // [watch]
  // The item's quantity now, then again at each change, until the call is over for the client.
  ferry::Status Watch(ferry::CallContext& ctx, const shop::ItemQuery& query,
                      ferry::ServerWriter<shop::Item>& writer) override {
    const std::string sku = flatbuffers::GetString(query.sku());
    // The call ends for the client (a cancel, its deadline, it went away, the server shuts
    // down): the wait below wakes at once.
    ctx.OnCancel([this] {
      std::lock_guard lock(mutex_);
      changed_.notify_all();
    });
    std::unique_lock lock(mutex_);
    for (std::optional<int64_t> sent;;) {
      changed_.wait(lock, [&] { return ctx.Cancelled() || QuantityLocked(sku) != sent; });
      if (ctx.Cancelled()) return ferry::Status::Cancelled("the watcher left");  // reaches nobody
      sent = QuantityLocked(sku);
      auto item = writer.NewMessage();
      item.Finish(shop::CreateItemDirect(item.fbb(), sku.c_str(), *sent));
      lock.unlock();  // Write() waits while the client is a window behind
      if (ferry::Status s = writer.Write(std::move(item)); !s.ok()) return s;
      lock.lock();
    }
  }
  // [watch]

  // [receive]
  // Reads each delivery in place, where the client built it, as it comes.
  ferry::Status Receive(ferry::CallContext&, ferry::ServerReader<shop::Delivery>& reader,
                        ferry::Reply<shop::Receipt>& reply) override {
    uint32_t deliveries = 0;
    int64_t units = 0;
    for (auto& delivery : reader) {  // until the client's Finish() (or the call's end)
      AddStock(flatbuffers::GetString(delivery->sku()), delivery->quantity());
      ++deliveries;
      units += delivery->quantity();
    }
    reply.Finish(shop::CreateReceipt(reply.fbb(), deliveries, units));
    return ferry::Status::Ok();
  }
  // [receive]

  // [reserve]
  // Answers each order as it comes, until the client's WritesDone().
  ferry::Status Reserve(ferry::CallContext&,
                        ferry::ServerStream<shop::Order, shop::Confirmation>& stream) override {
    for (auto& order : stream) {
      const std::string sku = flatbuffers::GetString(order->sku());
      bool reserved = false;
      int64_t left = 0;
      {
        std::lock_guard lock(mutex_);
        if (auto item = stock_.find(sku); item != stock_.end()) {
          reserved = order->quantity() > 0 && order->quantity() <= item->second;
          if (reserved) item->second -= order->quantity();
          left = item->second;
        }
        changed_.notify_all();
      }
      auto confirmation = stream.NewMessage();
      confirmation.Finish(
          shop::CreateConfirmationDirect(confirmation.fbb(), sku.c_str(), reserved, left));
      if (ferry::Status s = stream.Write(std::move(confirmation)); !s.ok()) return s;
    }
    return ferry::Status::Ok();
  }
  // [reserve]

  // [audit]
  // Nothing goes back to the client, whatever this returns: an error goes to the server's log.
  ferry::Status Audit(ferry::CallContext& ctx, const shop::AuditEvent& event) override {
    if (event.what() == nullptr || event.what()->size() == 0) {
      return ferry::Status::InvalidArgument("an audit event says what happened");
    }
    const ferry::Peer& peer = ctx.peer();  // shm://: the calling process, as the kernel says
    const std::string who = flatbuffers::GetString(event.who());
    audit_trail_.Add("pid " + std::to_string(peer.pid) + " uid " + std::to_string(peer.uid) + ": " +
                     who + " " + event.what()->str());
    return ferry::Status::Ok();
  }
  // [audit]

  // [close waiters]
  // Answers every AwaitStock call still waiting with UNAVAILABLE, before a shutdown: a drain
  // would wait for them until its deadline, then they would go as CANCELLED (OnCancel).
  void CloseWaiters() {
    std::map<uint64_t, Waiter> waiting;
    {
      std::lock_guard lock(mutex_);
      waiting.swap(waiters_);
    }
    for (auto& [id, waiter] : waiting) {
      waiter.reply.Send(ferry::Status::Unavailable("the shop is closing"));
    }
  }
  // [close waiters]

 private:
  struct Waiter {
    std::string sku;
    ferry::DeferredReply<shop::Item> reply;
  };

  int64_t QuantityLocked(const std::string& sku) const {
    auto item = stock_.find(sku);
    return item != stock_.end() ? item->second : 0;
  }

  // Adds to an item's stock, wakes its watchers and answers whoever awaits it.
  void AddStock(const std::string& sku, int64_t quantity) {
    std::vector<ferry::DeferredReply<shop::Item>> answered;
    int64_t now = 0;
    {
      std::lock_guard lock(mutex_);
      now = stock_[sku] += quantity;
      for (auto waiter = waiters_.begin(); waiter != waiters_.end();) {
        if (waiter->second.sku != sku) {
          ++waiter;
          continue;
        }
        answered.push_back(std::move(waiter->second.reply));
        waiter = waiters_.erase(waiter);
      }
      changed_.notify_all();
    }
    for (auto& reply : answered) {  // from this thread, any thread will do
      reply.Finish(shop::CreateItemDirect(reply.fbb(), sku.c_str(), now));
      reply.Send();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;  // stock_ changed, or a watch was cancelled
  std::map<std::string, int64_t> stock_;
  std::map<uint64_t, Waiter> waiters_;  // AwaitStock calls whose item is not in yet
  uint64_t next_waiter_ = 0;
  Lines& audit_trail_;
};

// [server interceptor]
// Runs around every call the server takes. Stock changes only at the hands of this user's
// processes: shm:// admits no others, but a unix:// socket admits whoever its mode lets in,
// and a tcp:// peer has no uid at all (-1).
ferry::Status OnlyThisUserChangesStock(ferry::CallContext& ctx,
                                       const std::function<ferry::Status()>& next) {
  const bool changes_stock =
      ctx.method() == "shop.Inventory.Receive" || ctx.method() == "shop.Inventory.Reserve";
  if (changes_stock && ctx.peer().uid != static_cast<int64_t>(getuid())) {
    return ferry::Status::PermissionDenied(std::string(ctx.method()) + " is for uid " +
                                           std::to_string(getuid()) + " only");
  }
  return next();  // the rest of the chain, then the handler
}
// [server interceptor]

// [serve]
// What every start of the server does: the service, the interceptor, then the endpoint.
ferry::Status Serve(ferry::Server& server, std::shared_ptr<InventoryImpl> inventory,
                    const std::string& endpoint) {
  if (ferry::Status s = server.Add(std::move(inventory)); !s.ok()) return s;
  if (ferry::Status s = server.Intercept(OnlyThisUserChangesStock); !s.ok()) return s;
  return server.Listen(endpoint);  // clients may connect as soon as this returns OK
}
// [serve]

}  // namespace

int main() {
  int failures = 0;
  const auto expect = [&failures](bool holds, const std::string& what) {
    if (!holds) {
      std::cerr << "guide samples: " << what << '\n';
      ++failures;
    }
  };
  const auto soon = [] { return std::chrono::steady_clock::now() + 5s; };

  Lines runtime_log;  // lines from any thread, for the checks below
  // [log sink]
  ferry::SetLogSink([&runtime_log](const ferry::LogRecord& record) {
    // Any runtime thread, several at once; the record is valid during this call only.
    runtime_log.Add(std::string(record.method) + " " +
                    std::string(ferry::StatusCodeName(record.status)) + ": " +
                    std::string(record.message));
  });
  // [log sink]

  const std::string endpoint = "shm://guide-" + std::to_string(getpid());
  Lines audit_trail;
  auto inventory_impl = std::make_shared<InventoryImpl>(
      std::map<std::string, int64_t>{{"apple", 10}, {"pear", 3}}, audit_trail);

  // [run server]
  ferry::ServerOptions server_options;
  server_options.worker_threads = 2;  // for shm:// connections (0: one per CPU)
  ferry::Server server(server_options);
  if (ferry::Status s = Serve(server, inventory_impl, endpoint); !s.ok()) {
    std::cerr << "server: " << s << '\n';
    return 1;
  }
  // The server serves from threads of its own. (A main() with nothing else to do would call
  // server.Run() here, which returns once another thread calls Shutdown().)
  // [run server]

  Lines failed_calls;
  // [connect]
  ferry::ConnectOptions options;
  options.reconnect.max_backoff = 1s;  // a local server restarts in well under a second
  options.interceptors.push_back([&failed_calls](const ferry::ClientCallInfo& call,
                                                 const std::function<ferry::Status()>& next) {
    ferry::Status status = next();  // makes the call (unary, oneway: and waits for its end)
    if (!status.ok()) failed_calls.Add(std::string(call.method) + ": " + status.ToString());
    return status;
  });
  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint, options);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << '\n';
    return 1;
  }
  shop::Inventory::Client inventory(*channel);
  // [connect]
  expect(channel->transport() == "shm", "the channel is not on shared memory");
  expect(channel->state() == ferry::ChannelState::kReady, "a new channel is not READY");

  // [unary]
  auto apples = inventory.Lookup("apple");  // the request's fields as arguments
  if (!apples.ok()) {
    std::cerr << "Lookup: " << apples.status() << '\n';  // "NOT_FOUND: no item apple"
    return 1;
  }
  int64_t apples_in_stock = (*apples)->quantity();  // read in place, where the server wrote it
  // [unary]
  expect(apples_in_stock == 10, "Lookup(apple) is not 10");

  // [in place]
  auto query = inventory.NewLookupRequest(/*size_hint=*/64);  // in transport memory
  query.Finish(shop::CreateItemQueryDirect(query.fbb(), "pear"));
  auto pears = inventory.Lookup(std::move(query), {.deadline = 10s});  // not the schema's 2 s
  // [in place]
  expect(pears.ok() && (*pears)->quantity() == 3, "Lookup(pear) in place is not 3");

  // [errors]
  auto plums = inventory.Lookup("plum");
  if (plums.status().code() == ferry::StatusCode::kNotFound) {
    std::cout << plums.status() << '\n';  // NOT_FOUND: no item plum
  }
  // [errors]
  expect(plums.status().ToString() == "NOT_FOUND: no item plum",
         "Lookup(plum): " + plums.status().ToString());

  // [async]
  ferry::AsyncReply<shop::Item> pending = inventory.LookupAsync("pear");  // returns at once
  // ... the caller goes on meanwhile ...
  auto pears_later = pending.Get();  // waits for the reply
  // [async]
  expect(pears_later.ok() && (*pears_later)->quantity() == 3, "LookupAsync(pear) is not 3");

  // [async callback]
  std::promise<int64_t> apples_later;
  inventory.LookupAsync("apple", [&apples_later](ferry::Result<ferry::ReplyView<shop::Item>> item) {
    apples_later.set_value(item.ok() ? (*item)->quantity() : -1);  // on the completion thread
  });
  // [async callback]
  expect(apples_later.get_future().get() == 10, "LookupAsync(apple, callback) is not 10");

  // [deadline]
  auto plum = inventory.AwaitStock("plum", {.deadline = 20ms});  // nobody delivers plums
  // [deadline]
  expect(plum.status().code() == ferry::StatusCode::kDeadlineExceeded,
         "AwaitStock(plum) with a deadline: " + plum.status().ToString());

  // [cancel]
  auto awaiting = inventory.AwaitStockAsync("plum");
  if (!awaiting.Wait(std::chrono::steady_clock::now() + 10ms)) {  // no plums in 10 ms
    awaiting.Cancel();  // the call ends here with CANCELLED; the server is told
  }
  auto gave_up = awaiting.Get();
  // [cancel]
  expect(gave_up.status().code() == ferry::StatusCode::kCancelled,
         "AwaitStockAsync(plum) cancelled: " + gave_up.status().ToString());

  // [server streaming]
  auto watch = inventory.Watch("apple");  // apple's quantity now, then at each change
  std::optional<ferry::MessageView<shop::Item>> now = watch.Read();  // nullopt: the end
  // [server streaming]
  expect(now && (*now)->quantity() == 10, "the first Watch(apple) message is not 10");

  // [client streaming]
  auto kiwis = inventory.AwaitStockAsync("kiwi");  // the server defers its reply
  auto receive = inventory.Receive();
  for (auto [sku, quantity] : {std::pair{"apple", 5}, std::pair{"kiwi", 2}}) {
    auto delivery = receive.NewMessage(/*size_hint=*/128);
    delivery.Finish(shop::CreateDeliveryDirect(delivery.fbb(), sku, quantity));
    if (!receive.Write(std::move(delivery)).ok()) break;  // the call ended: Finish() says why
  }
  auto receipt = receive.Finish();  // ends the writing, waits for the reply
  auto kiwi = kiwis.Get();          // sent by the server when the kiwis came in
  // [client streaming]
  expect(receipt.ok() && (*receipt)->deliveries() == 2 && (*receipt)->units() == 7,
         "Receive's receipt: " + receipt.status().ToString());
  expect(kiwi.ok() && (*kiwi)->quantity() == 2,
         "AwaitStockAsync(kiwi): " + kiwi.status().ToString());

  // [cancel stream]
  auto changed = watch.Read();  // 15 apples, since the delivery
  // Ends the stream here at once, and tells the server; Finish() says CANCELLED.
  watch.Cancel();
  ferry::Status watched = watch.Finish();
  // [cancel stream]
  expect(changed && (*changed)->quantity() == 15, "the second Watch(apple) message is not 15");
  expect(watched.code() == ferry::StatusCode::kCancelled, "Watch(apple): " + watched.ToString());

  // [bidi streaming]
  auto reserve = inventory.Reserve();
  for (auto [sku, quantity] : {std::pair{"apple", 4}, std::pair{"pear", 100}}) {
    auto order = reserve.NewMessage();
    order.Finish(shop::CreateOrderDirect(order.fbb(), sku, quantity));
    if (!reserve.Write(std::move(order)).ok()) break;  // the call ended: Finish() says why
  }
  (void)reserve.WritesDone();  // no more orders: the server's loop ends, and so does the call
  std::vector<bool> reserved;
  for (auto& confirmation : reserve) reserved.push_back(confirmation->reserved());
  ferry::Status reserving = reserve.Finish();
  // [bidi streaming]
  expect(reserving.ok() && reserved == std::vector<bool>{true, false},
         "Reserve: " + reserving.ToString());

  // [oneway]
  ferry::Status audited = inventory.Audit("guide", "counted the apples");  // OK: it is sent
  ferry::Status unsaid = inventory.Audit("guide", "");  // OK too: the error goes to the log
  // [oneway]
  expect(audited.ok() && unsaid.ok(), "Audit: " + audited.ToString() + ", " + unsaid.ToString());
  expect(audit_trail.WaitFor("pid " + std::to_string(getpid()) + " uid " +
                                 std::to_string(getuid()) + ": guide counted the apples",
                             soon()),
         "the audit trail has no line naming this process");
  expect(runtime_log.WaitFor("shop.Inventory.Audit INVALID_ARGUMENT: oneway call failed: "
                             "an audit event says what happened",
                             soon()),
         "the log has no line for the failed Audit");

  auto pear_watch = inventory.Watch("pear");  // open across the server's shutdown
  auto pears_now = pear_watch.Read();
  expect(pears_now && (*pears_now)->quantity() == 3, "the first Watch(pear) message is not 3");

  // [health]
  ferry::Status marked = server.SetServing("shop.Inventory", false);  // calls are still served
  ferry::Health::Client health(*channel);
  auto answer = health.Check("shop.Inventory");  // "": the server as a whole
  bool serving = answer.ok() && (*answer)->status() == ferry::ServingStatus::Serving;
  // [health]
  expect(marked.ok() && answer.ok() && !serving, "Health.Check after SetServing(false)");

  // [drain]
  inventory_impl->CloseWaiters();  // what the service holds goes first
  // New calls are refused from now on; those in flight may finish for 100 ms. Then what is
  // left (the pear watch, which never ends by itself) is cancelled, and clients disconnected.
  server.Shutdown(std::chrono::steady_clock::now() + 100ms);
  // [drain]
  expect(!pear_watch.Read(), "Watch(pear) goes on after the shutdown");
  ferry::Status pear_end = pear_watch.Finish();
  expect(pear_end.code() == ferry::StatusCode::kUnavailable, "Watch(pear): " + pear_end.ToString());

  // [method stats]
  for (const ferry::MethodStats& stats : server.method_stats()) {
    std::cout << stats.method << ": " << stats.calls << " calls, " << stats.errors
              << " errors, 99% within " << stats.LatencyBoundMicros(0.99) << " us\n";
  }
  // [method stats]
  for (const ferry::MethodStats& stats : server.method_stats()) {
    if (stats.method == "shop.Inventory.Lookup") {
      using Count = std::pair<ferry::StatusCode, uint64_t>;
      expect(stats.calls == 5 && stats.errors == 1 &&
                 stats.by_status == std::vector<Count>{{ferry::StatusCode::kOk, 4},
                                                       {ferry::StatusCode::kNotFound, 1}},
             "Lookup's stats");
    } else if (stats.method == "shop.Inventory.AwaitStock") {
      // The kiwi call; the plum calls fail, but a call read after its deadline is refused
      // before any handler runs, and such calls are not counted.
      expect(stats.calls >= 2 && stats.calls == stats.errors + 1, "AwaitStock's stats");
    }
  }

  // [reconnect]
  ferry::ChannelState lost = channel->state();  // IDLE: the next call connects again
  ferry::Server restarted(server_options);
  if (ferry::Status s = Serve(restarted, inventory_impl, endpoint); !s.ok()) {
    std::cerr << "server: " << s << '\n';
    return 1;
  }
  auto apples_again = inventory.Lookup("apple", {.deadline = 10s});  // connects, then calls
  std::cout << "channel: " << ferry::ToString(lost) << ", then "
            << ferry::ToString(channel->state()) << '\n';  // IDLE, then READY
  // [reconnect]
  expect(lost == ferry::ChannelState::kIdle,
         "after the shutdown the channel is " + std::string(ferry::ToString(lost)));
  expect(apples_again.ok() && (*apples_again)->quantity() == 11,
         "Lookup(apple) after the restart: " + apples_again.status().ToString());
  expect(channel->state() == ferry::ChannelState::kReady, "the channel is not READY again");
  inventory_impl->CloseWaiters();
  restarted.Shutdown();

  // Through the client interceptor: the unary calls that failed, nothing else.
  const std::vector<std::string> failed = failed_calls.All();
  expect(failed.size() == 2 && failed[0] == "shop.Inventory.Lookup: NOT_FOUND: no item plum" &&
             failed[1].rfind("shop.Inventory.AwaitStock: DEADLINE_EXCEEDED", 0) == 0,
         "the client interceptor saw " + std::to_string(failed.size()) + " failed calls");
  ferry::SetLogSink({});  // stderr again; runtime_log goes with main()
  if (failures == 0) std::cout << "guide samples: every call did what docs/guide.md says\n";
  return failures == 0 ? 0 : 1;
}
