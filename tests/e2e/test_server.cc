// ferry_test_server [--no-shm] [--busy-poll] [--memory-budget=<bytes>] [--drain-ms=<n>]
// [--workers=<n>] [--no-reflection] [--no-health] [--not-serving=<service>] <endpoint>: serves TestService; prints "ready <endpoint>" once listening and
// exits 0 on SIGTERM or SIGINT after a clean shutdown. --no-shm: offer socket clients no move
// to shared memory. --busy-poll: ServerOptions::busy_poll. --memory-budget:
// sets ServerOptions::memory_budget_bytes. --drain-ms: calls in flight at the signal may finish
// for that long (Server::Shutdown(deadline)). --workers: at most that many threads run
// handlers (worker_threads, max_worker_threads and workers_per_connection).
// --no-reflection, --no-health: ServerOptions::reflection, ::health off. --not-serving=<s>:
// Server::SetServing(s, false).
#include <atomic>
#include <cstring>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ferry/ferry.h"
#include "support/serve_until_signal.h"
#include "test_service.ferry.h"

namespace {

namespace ft = ferry::test;

// One whole line on stdout: handlers on several threads must not interleave theirs.
void Say(const char* line) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::cout << line << std::endl;
}

class TestServiceImpl final : public ft::TestService::Service {
 public:
  explicit TestServiceImpl(ferry::Server& server) : server_(server) {}

  ferry::Status WhoCalled(ferry::CallContext& context, const ft::Empty&,
                          ferry::Reply<ft::Caller>& reply) override {
    const ferry::Peer& peer = context.peer();
    reply.Finish(ft::CreateCallerDirect(reply.fbb(), peer.pid, peer.uid, peer.gid,
                                        peer.address.c_str()));
    return ferry::Status::Ok();
  }

  ferry::Status Add(ferry::CallContext&, const ft::AddRequest& request,
                    ferry::Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return ferry::Status::Ok();
  }

  ferry::Status Summarize(ferry::CallContext&, const ft::Blob& request,
                          ferry::Reply<ft::Digest>& reply) override {
    const auto* data = request.data();
    uint64_t sum = 0;
    uint8_t first = 0, last = 0;
    if (data != nullptr && data->size() > 0) {
      for (uint8_t byte : *data) sum += byte;
      first = data->Get(0);
      last = data->Get(data->size() - 1);
    }
    reply.Finish(ft::CreateDigest(reply.fbb(), data ? data->size() : 0, first, last, sum));
    return ferry::Status::Ok();
  }

  ferry::Status Generate(ferry::CallContext&, const ft::AddRequest& request,
                         ferry::Reply<ft::Blob>& reply) override {
    reply.Reserve(static_cast<size_t>(request.a()) + 1024);
    uint8_t* bytes = nullptr;
    auto data = reply.fbb().CreateUninitializedVector(static_cast<size_t>(request.a()), &bytes);
    std::fill(bytes, bytes + request.a(), static_cast<uint8_t>(request.b()));
    reply.Finish(ft::CreateBlob(reply.fbb(), 0, data));
    return ferry::Status::Ok();
  }

  ferry::Status Echo(ferry::CallContext&, const ft::Blob& request,
                     ferry::Reply<ft::Blob>& reply) override {
    const size_t size = request.data() != nullptr ? request.data()->size() : 0;
    reply.Reserve(size + 1024);
    uint8_t* bytes = nullptr;
    auto data = reply.fbb().CreateUninitializedVector(size, &bytes);
    if (size > 0) std::memcpy(bytes, request.data()->data(), size);
    reply.Finish(ft::CreateBlob(reply.fbb(), request.seq(), data));
    return ferry::Status::Ok();
  }

  ferry::Status Block(ferry::CallContext& context, const ft::Empty&,
                      ferry::Reply<ft::Empty>& reply) override {
    Say("blocked");
    // Polling is the contract of Cancelled(); the sleep bounds the CPU this costs.
    while (!context.Cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Say("unblocked");
    reply.Finish(ft::CreateEmpty(reply.fbb()));
    return ferry::Status::Cancelled("client gave up");
  }

  ferry::Status Throw(ferry::CallContext&, const ft::Text& request,
                      ferry::Reply<ft::Empty>&) override {
    throw std::runtime_error(request.text() ? request.text()->str() : "");
  }

  ferry::Status Fail(ferry::CallContext&, const ft::Text& request,
                     ferry::Reply<ft::Empty>&) override {
    return ferry::Status::FailedPrecondition(request.text() ? request.text()->str() : "");
  }

  ferry::Status CorruptReply(ferry::CallContext&, const ft::Empty&,
                             ferry::Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), 1));
    // Point the root offset far outside the buffer.
    uint8_t* root = reply.fbb().GetBufferPointer();
    root[0] = 0xff;
    root[1] = 0xff;
    root[2] = 0xff;
    root[3] = 0x7f;
    return ferry::Status::Ok();
  }

  ferry::Status ForgetReply(ferry::CallContext&, const ft::Empty&,
                            ferry::Reply<ft::AddReply>&) override {
    return ferry::Status::Ok();
  }

  ferry::Status GetStats(ferry::CallContext&, const ft::Empty&,
                         ferry::Reply<ft::Stats>& reply) override {
    reply.Finish(ft::CreateStats(reply.fbb(), static_cast<uint32_t>(server_.connection_count()),
                                 notes_.load(), 0, stream_messages_.load(),
                                 streams_cancelled_.load()));
    return ferry::Status::Ok();
  }

  ferry::Status FailWith(ferry::CallContext&, const ft::AddRequest& request,
                         ferry::Reply<ft::Empty>&) override {
    return {static_cast<ferry::StatusCode>(request.a()),
            std::string(static_cast<size_t>(request.b()), 'x')};
  }

  ferry::Status Sleep(ferry::CallContext&, const ft::AddRequest& request,
                      ferry::Reply<ft::AddReply>& reply) override {
    Say("sleeping");
    const int32_t a = request.a(), b = request.b();
    std::lock_guard lock(sleepers_mutex_);
    sleepers_.emplace_back([a, b, later = reply.Defer()]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(a));  // the point of the method
      later.Finish(ft::CreateAddReply(later.fbb(), a + b));
      later.Send();
    });
    return ferry::Status::Ok();
  }

  ferry::Status Note(ferry::CallContext&, const ft::Text&) override {
    notes_.fetch_add(1);
    return ferry::Status::Ok();
  }

  ferry::Status Watch(ferry::CallContext& context, const ft::AddRequest& request,
                      ferry::ServerWriter<ft::AddReply>& writer) override {
    for (int32_t i = 0; request.a() < 0 || i < request.a(); ++i) {
      auto message = writer.NewMessage();
      message.Finish(ft::CreateAddReply(message.fbb(), request.b() + i));
      if (ferry::Status s = writer.Write(std::move(message)); !s.ok()) {
        if (context.Cancelled()) {
          streams_cancelled_.fetch_add(1);
          Say("stream cancelled");
        }
        return s;
      }
      stream_messages_.fetch_add(1);
    }
    return ferry::Status::Ok();
  }

  ferry::Status Download(ferry::CallContext&, const ft::AddRequest& request,
                         ferry::ServerWriter<ft::Blob>& writer) override {
    const auto size = static_cast<size_t>(request.b());
    for (int32_t i = 0; i < request.a(); ++i) {
      auto message = writer.NewMessage(size + 1024);
      uint8_t* bytes = nullptr;
      auto data = message.fbb().CreateUninitializedVector(size, &bytes);
      std::fill(bytes, bytes + size, static_cast<uint8_t>(i % 251));
      message.Finish(ft::CreateBlob(message.fbb(), static_cast<uint64_t>(i), data));
      if (ferry::Status s = writer.Write(std::move(message)); !s.ok()) return s;
      stream_messages_.fetch_add(1);
    }
    return ferry::Status::Ok();
  }

  ferry::Status WatchThenFail(ferry::CallContext&, const ft::AddRequest& request,
                              ferry::ServerWriter<ft::AddReply>& writer) override {
    for (int32_t i = 0; i < request.a(); ++i) {
      auto message = writer.NewMessage();
      message.Finish(ft::CreateAddReply(message.fbb(), request.b() + i));
      if (ferry::Status s = writer.Write(std::move(message)); !s.ok()) return s;
    }
    return ferry::Status::Aborted("ended early");
  }

  ferry::Status Upload(ferry::CallContext& context, ferry::ServerReader<ft::Blob>& reader,
                       ferry::Reply<ft::Digest>& reply) override {
    uint64_t size = 0, sum = 0, count = 0;
    uint8_t first = 0, last = 0;
    for (auto& blob : reader) {
      ++count;
      stream_messages_.fetch_add(1);
      const auto* data = blob->data();
      if (data == nullptr || data->size() == 0) continue;
      if (size == 0) first = data->Get(0);
      last = data->Get(data->size() - 1);
      size += data->size();
      for (uint8_t byte : *data) sum += byte;
    }
    if (context.Cancelled()) {
      streams_cancelled_.fetch_add(1);
      Say("stream cancelled");
      return ferry::Status::Cancelled("client gave up");
    }
    reply.Finish(ft::CreateDigest(reply.fbb(), size, first, last, sum));
    (void)count;
    return ferry::Status::Ok();
  }

  ferry::Status Chat(ferry::CallContext& context,
                     ferry::ServerStream<ft::Blob, ft::Blob>& stream) override {
    for (auto& blob : stream) {
      const size_t size = blob->data() != nullptr ? blob->data()->size() : 0;
      auto message = stream.NewMessage(size + 1024);
      uint8_t* bytes = nullptr;
      auto data = message.fbb().CreateUninitializedVector(size, &bytes);
      if (size > 0) std::memcpy(bytes, blob->data()->data(), size);
      message.Finish(ft::CreateBlob(message.fbb(), blob->seq(), data));
      if (ferry::Status s = stream.Write(std::move(message)); !s.ok()) break;
      stream_messages_.fetch_add(1);
    }
    if (context.Cancelled()) {
      streams_cancelled_.fetch_add(1);
      Say("stream cancelled");
      return ferry::Status::Cancelled("client gave up");
    }
    return ferry::Status::Ok();
  }

 private:
  ferry::Server& server_;
  std::atomic<uint32_t> notes_{0};
  std::mutex sleepers_mutex_;
  std::vector<std::jthread> sleepers_;  // joined when the service goes
  std::atomic<uint64_t> stream_messages_{0};
  std::atomic<uint32_t> streams_cancelled_{0};
};

}  // namespace

int main(int argc, char** argv) {
  ferry::ServerOptions options;
  const std::string kBudgetFlag = "--memory-budget=";
  const std::string kDrainFlag = "--drain-ms=";
  const std::string kWorkersFlag = "--workers=";
  const std::string kNotServingFlag = "--not-serving=";
  std::vector<std::string> not_serving;
  std::chrono::milliseconds drain{0};
  for (; argc > 2; --argc, ++argv) {
    const std::string flag = argv[1];
    if (flag == "--no-shm") {
      options.allow_shm = false;
    } else if (flag == "--busy-poll") {
      options.busy_poll = true;
    } else if (flag.rfind(kBudgetFlag, 0) == 0) {
      options.memory_budget_bytes = std::stoull(flag.substr(kBudgetFlag.size()));
    } else if (flag.rfind(kWorkersFlag, 0) == 0) {
      const auto workers = static_cast<uint32_t>(std::stoul(flag.substr(kWorkersFlag.size())));
      options.worker_threads = options.max_worker_threads = workers;
      options.workers_per_connection = workers;
    } else if (flag == "--no-reflection") {
      options.reflection = false;
    } else if (flag == "--no-health") {
      options.health = false;
    } else if (flag.rfind(kNotServingFlag, 0) == 0) {
      not_serving.push_back(flag.substr(kNotServingFlag.size()));
    } else if (flag.rfind(kDrainFlag, 0) == 0) {
      drain = std::chrono::milliseconds(std::stoll(flag.substr(kDrainFlag.size())));
    } else {
      break;
    }
  }
  if (argc != 2) {
    std::cerr << "usage: ferry_test_server [--no-shm] [--busy-poll] [--memory-budget=<bytes>] "
                 "[--drain-ms=<n>] [--workers=<n>] [--no-reflection] [--no-health] "
                 "[--not-serving=<service>] <endpoint>\n";
    return 2;
  }
  const sigset_t stop = ferry::testing::BlockStopSignals();
  ferry::Server server(options);
  if (ferry::Status s = server.Add(std::make_shared<TestServiceImpl>(server)); !s.ok()) {
    std::cerr << s << '\n';
    return 1;
  }
  for (const std::string& service : not_serving) {
    if (ferry::Status s = server.SetServing(service, false); !s.ok()) {
      std::cerr << s << '\n';
      return 1;
    }
  }
  return ferry::testing::ServeUntilStopSignal(server, argv[1], stop, "ferry_test_server", drain);
}
