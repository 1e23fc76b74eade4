// The call engine (ClientEngine and LinkServerConnection) over an in-memory fake link: every
// call kind, flow control, cancellation and deadlines, without processes or sockets.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "call/client_engine.h"
#include "call/dispatch.h"
#include "call/link_server_connection.h"
#include "call/server_loop.h"
#include "engine_test_generated.h"
#include "fake_link.h"
#include "os/log.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;
using testing::FakeLink;
using enginetest::Number;

constexpr auto kGenerous = 10s;  // a bound on waits for what tests observe

enum : uint32_t {
  kDouble = 1,
  kRecord,
  kCount,
  kSum,
  kEcho,
  kBlock,
  kFailAfter,
  kLong,
  kLater,
  kWriteThenWait,
  kPaced,
  kSumLater,
  kWriteUnderLock
};

MessageBuilder<Number> NumberIn(OutgoingMessage message, int64_t value) {
  MessageBuilder<Number> builder(std::move(message));
  builder.Finish(enginetest::CreateNumber(builder.fbb(), value));
  return builder;
}

int64_t ValueOf(const IncomingMessage& message) {
  return flatbuffers::GetRoot<Number>(message.data())->value();
}

// A server stream's next message: `value`, built in place.
Status WriteNumber(ServerWriter<Number>& out, int64_t value) {
  auto message = out.NewMessage();
  message.Finish(enginetest::CreateNumber(message.fbb(), value));
  return out.Write(std::move(message));
}

// Handlers the tests observe.
struct Observed {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int64_t> recorded;
  int written = 0;
  int go = 0;  // kPaced writes its message i once go > i
  bool cancel_seen = false;
  bool on_cancel_ran = false;
  CallContext::Clock::time_point deadline_seen;

  template <class F>
  void Update(F f) {
    std::lock_guard lock(mutex);
    f();
    changed.notify_all();
  }
  template <class P>
  bool WaitFor(P p) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kGenerous, p);
  }
};

ServiceBinding TestBinding(Observed& seen) {
  ServiceBinding binding("t.Engine", 0, nullptr);
  binding.AddUnary<Number, Number>(
      MethodSignature{kDouble, "t.Engine.Double", {}},
      [](void*, CallContext&, const Number& in, Reply<Number>& reply) {
        reply.Finish(enginetest::CreateNumber(reply.fbb(), in.value() * 2));
        return Status::Ok();
      });
  binding.AddOneway<Number>(MethodSignature{kRecord, "t.Engine.Record", {}},
                            [&seen](void*, CallContext&, const Number& in) {
                              seen.Update([&] { seen.recorded.push_back(in.value()); });
                              return Status::Ok();
                            });
  binding.AddServerStreaming<Number, Number>(
      MethodSignature{kCount, "t.Engine.Count", {}},
      [&seen](void*, CallContext& ctx, const Number& in, ServerWriter<Number>& out) {
        seen.Update([&] { seen.deadline_seen = ctx.Deadline(); });
        for (int64_t i = 0; i < in.value(); ++i) {
          if (Status s = WriteNumber(out, i); !s.ok()) return s;
          seen.Update([&] { ++seen.written; });
        }
        return Status::Ok();
      });
  binding.AddClientStreaming<Number, Number>(
      MethodSignature{kSum, "t.Engine.Sum", {}},
      [](void*, CallContext&, ServerReader<Number>& in, Reply<Number>& reply) {
        int64_t sum = 0;
        for (auto& number : in) sum += number->value();
        reply.Finish(enginetest::CreateNumber(reply.fbb(), sum));
        return Status::Ok();
      });
  binding.AddBidiStreaming<Number, Number>(
      MethodSignature{kEcho, "t.Engine.Echo", {}},
      [](void*, CallContext&, ServerStream<Number, Number>& stream) {
        for (auto& number : stream) {
          auto message = stream.NewMessage();
          message.Finish(enginetest::CreateNumber(message.fbb(), number->value() + 1));
          if (Status s = stream.Write(std::move(message)); !s.ok()) return s;
        }
        return Status::Ok();
      });
  binding.AddUnary<Number, Number>(
      MethodSignature{kBlock, "t.Engine.Block", {}},
      [&seen](void*, CallContext& ctx, const Number&, Reply<Number>&) {
        ctx.OnCancel([&seen] { seen.Update([&] { seen.on_cancel_ran = true; }); });
        const bool cancelled = ctx.WaitForCancel(CallContext::Clock::now() + kGenerous);
        seen.Update([&] { seen.cancel_seen = cancelled; });
        return Status::Aborted("unblocked");
      });
  binding.AddServerStreaming<Number, Number>(
      MethodSignature{kFailAfter, "t.Engine.FailAfter", {}},
      [](void*, CallContext&, const Number& in, ServerWriter<Number>& out) {
        for (int64_t i = 0; i < in.value(); ++i) {
          if (Status s = WriteNumber(out, i); !s.ok()) return s;
        }
        return Status::Aborted("ended early on purpose");
      });
  binding.AddUnary<Number, Number>(
      MethodSignature{kLater, "t.Engine.Later", {}},
      [&seen](void*, CallContext&, const Number& in, Reply<Number>& reply) {
        // Finished on another thread once the test allows it (seen.written turns 1).
        std::thread([&seen, value = in.value(), later = reply.Defer()]() mutable {
          seen.WaitFor([&] { return seen.written == 1; });
          later.Finish(enginetest::CreateNumber(later.fbb(), value + 1));
          later.Send();
        }).detach();
        return Status::Ok();
      });
  binding.AddServerStreaming<Number, Number>(
      MethodSignature{kWriteThenWait, "t.Engine.WriteThenWait", {}},
      [](void*, CallContext& ctx, const Number& in, ServerWriter<Number>& out) {
        if (Status s = WriteNumber(out, in.value()); !s.ok()) return s;
        (void)ctx.WaitForCancel(CallContext::Clock::now() + kGenerous);  // the test cancels
        return Status::Ok();
      });
  binding.AddServerStreaming<Number, Number>(
      MethodSignature{kPaced, "t.Engine.Paced", {}},
      [&seen](void*, CallContext&, const Number& in, ServerWriter<Number>& out) {
        for (int64_t i = 0; i < in.value(); ++i) {
          if (!seen.WaitFor([&] { return seen.go > i; })) return Status::Aborted("not let go");
          if (Status s = WriteNumber(out, i); !s.ok()) return s;
          seen.Update([&] { ++seen.written; });
        }
        return Status::Ok();
      });
  binding.AddClientStreaming<Number, Number>(
      MethodSignature{kSumLater, "t.Engine.SumLater", {}},
      [&seen](void*, CallContext&, ServerReader<Number>& in, Reply<Number>& reply) {
        int64_t sum = 0;
        for (auto& number : in) sum += number->value();
        // Sent from another thread once the test allows it (seen.written turns 1).
        std::thread([&seen, sum, later = reply.Defer()]() mutable {
          seen.WaitFor([&] { return seen.written == 1; });
          later.Finish(enginetest::CreateNumber(later.fbb(), sum));
          later.Send();
        }).detach();
        return Status::Ok();
      });
  binding.AddServerStreaming<Number, Number>(
      MethodSignature{kWriteUnderLock, "t.Engine.WriteUnderLock", {}},
      [&seen](void*, CallContext& ctx, const Number&, ServerWriter<Number>& out) {
        // Its OnCancel takes the lock its Write holds: it must run on another thread.
        auto held = std::make_shared<std::mutex>();
        ctx.OnCancel([&seen, held] {
          std::lock_guard lock(*held);
          seen.Update([&] { seen.on_cancel_ran = true; });
        });
        std::lock_guard lock(*held);
        for (int64_t i = 0;; ++i) {
          // The second write waits for the test (which cancels meanwhile).
          if (i == 1 && !seen.WaitFor([&] { return seen.go >= 1; })) {
            return Status::Aborted("not let go");
          }
          if (Status s = WriteNumber(out, i); !s.ok()) return s;
        }
      });
  binding.AddUnary<Number, Number>(MethodSignature{kLong, "t.Engine.Long", {}},
                                   [](void*, CallContext&, const Number&, Reply<Number>&) {
                                     return Status::Internal(std::string(10000, 'x'));
                                   });
  return binding;
}

// The server's end of the next connection (OpenLink cannot capture).
std::shared_ptr<FakeLink> next_server_end;

Result<std::shared_ptr<MessageLink>> OpenFake(int, const ConnectionEnv&) {
  return std::shared_ptr<MessageLink>(std::exchange(next_server_end, nullptr));
}

class EngineTest : public ::testing::Test {
 protected:
  // `polled`: the server's end is served by a worker pool, as shared memory is.
  void Start(ServerOptions server_options = {}, ConnectOptions client_options = {},
             bool polled = false) {
    server_options_ = server_options;
    binding_ = std::make_unique<ServiceBinding>(TestBinding(seen_));
    for (const auto& method : binding_->methods()) methods_.emplace(method.id, &method);
    auto [client_end, server_end] = FakeLink::Pair();
    client_end_ = client_end;
    server_link_ = server_end;
    next_server_end = server_end;
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    peer_socket_ = Fd(fds[1]);
    if (polled) {
      server_end->MakePollable();
      Result<std::shared_ptr<ServerLoop>> loop = ServerLoop::Create(2, 4, nullptr);
      ASSERT_TRUE(loop.ok()) << loop.status().ToString();
      loop_ = *loop;
    }
    ConnectionEnv env{"fake://engine", &methods_, nullptr, nullptr, &server_options_, [] {}, "",
                      &log_,           nullptr, loop_};
    server_ = std::make_shared<LinkServerConnection>(Fd(fds[0]), &OpenFake, env);
    ASSERT_TRUE(server_->Start());
    client_ = ClientEngine::Start(client_end, "fake://engine", client_options);
  }
  void TearDown() override {
    client_.reset();
    if (server_) {
      server_->Stop();
      server_->Join();
    }
    if (loop_) loop_->Stop();
  }

  OutgoingMessage Request(int64_t value) {
    return std::move(NumberIn(client_->NewMessage(0), value)).TakeMessage();
  }
  ClientCallHandle Open(uint32_t method, MethodKind kind, std::optional<int64_t> request,
                        CallOptions options = {}) {
    if (!request) return ClientCallHandle(client_->Open(method, kind, nullptr, options));
    OutgoingMessage message = Request(*request);
    return ClientCallHandle(client_->Open(method, kind, &message, options));
  }

  Observed seen_;
  ServerOptions server_options_;
  std::unique_ptr<ServiceBinding> binding_;
  MethodTable methods_;
  LogLimiter log_;
  Fd peer_socket_;
  std::shared_ptr<FakeLink> client_end_;
  std::shared_ptr<FakeLink> server_link_;
  std::shared_ptr<ServerLoop> loop_;
  std::shared_ptr<LinkServerConnection> server_;
  std::shared_ptr<ClientEngine> client_;
};

TEST_F(EngineTest, UnaryCallRoundTrips) {
  Start();
  Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(21), {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ValueOf(*reply), 42);
}

TEST_F(EngineTest, MoreSynchronousCallersThanCpusAllGetTheirOwnReplies) {
  // Past two waiting callers per CPU the completion thread reads for all of them; the role
  // moves between it and the callers as the crowd grows and shrinks.
  Start();
  const int threads = 4 * static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  constexpr int kCallsEach = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const int64_t value = t * 1000 + i;
        Result<IncomingMessage> reply =
            client_->Call(kDouble, MethodKind::kUnary, Request(value), {});
        if (!reply.ok() || ValueOf(*reply) != 2 * value) ++wrong;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(wrong.load(), 0);
  // And a lone caller afterwards reads for itself again.
  Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(5), {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ValueOf(*reply), 10);
}

TEST_F(EngineTest, RepliesThatArriveTogetherWakeEveryWaitingCaller) {
  // The server's replies are held, then delivered at once (in the order the server answered):
  // the client's reader routes them in one turn and wakes each synchronous caller once it has
  // let the engine's mutex go.
  Start();
  server_link_->HoldSends();
  constexpr int kCallers = 8;
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      Result<IncomingMessage> reply =
          client_->Call(kDouble, MethodKind::kUnary, Request(t), {.deadline = 30s});
      if (!reply.ok() || ValueOf(*reply) != 2 * t) ++wrong;
    });
  }
  const bool held = server_link_->WaitHeld(kCallers, 30s);
  server_link_->ReleaseSends();
  for (std::thread& caller : callers) caller.join();
  EXPECT_TRUE(held) << "the server did not answer every call";
  EXPECT_EQ(wrong.load(), 0);
}

// On a polled link a stream's writer reads the link itself between writes and may leave it
// unparked (LinkServerConnection::ReadOnStreamThread): calls it reads go to a worker, and
// calls that come while it pauses are still read.
TEST_F(EngineTest, PolledUnaryCallsAreAnsweredWhileAStreamWrites) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 8;  // a window update every 4 messages
  Start({}, client_options, /*polled=*/true);
  constexpr int64_t kMessages = 3000;
  std::thread reader([&] {
    ClientCallHandle stream = Open(kCount, MethodKind::kServerStreaming, kMessages);
    int64_t expected = 0;
    while (std::optional<IncomingMessage> message = stream.Read()) {
      EXPECT_EQ(ValueOf(*message), expected++);
    }
    EXPECT_EQ(expected, kMessages);
    EXPECT_TRUE(stream.Finish().ok());
  });
  for (int64_t i = 0; i < 200; ++i) {
    Result<IncomingMessage> reply =
        client_->Call(kDouble, MethodKind::kUnary, Request(i), CallOptions{});
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(ValueOf(*reply), 2 * i);
  }
  reader.join();
  // The stream's end leaves the link to the workers again.
  Result<IncomingMessage> after =
      client_->Call(kDouble, MethodKind::kUnary, Request(21), CallOptions{});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(ValueOf(*after), 42);
}

TEST_F(EngineTest, PolledACallWhileAStreamPausesIsAnswered) {
  Start({}, {}, /*polled=*/true);
  ClientCallHandle stream = Open(kWriteThenWait, MethodKind::kServerStreaming, 7);
  std::optional<IncomingMessage> first = stream.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ValueOf(*first), 7);
  for (int64_t i = 0; i < 20; ++i) {
    CallOptions options;
    options.deadline = kGenerous;
    Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(i), options);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(ValueOf(*reply), 2 * i);
  }
  stream.Cancel();
  EXPECT_EQ(stream.Finish().status().code(), StatusCode::kCancelled);
}

// With the doorbell muted only the server's own looks find what the client sends: the
// writer reads a call after its next write and hands it to a worker.
TEST_F(EngineTest, PolledACallTheStreamWriterReadsRunsOnAWorker) {
  Start({}, {}, /*polled=*/true);
  ClientCallHandle stream = Open(kPaced, MethodKind::kServerStreaming, 5);
  seen_.Update([&] { seen_.go = 1; });
  std::optional<IncomingMessage> first = stream.Read();
  ASSERT_TRUE(first.has_value());
  server_link_->MuteDoorbell(true);
  CallOptions bounded;
  bounded.deadline = kGenerous;  // a failure fails, not hangs
  ClientCallHandle call = Open(kDouble, MethodKind::kUnary, 8, bounded);
  seen_.Update([&] { seen_.go = 5; });  // the writer's next writes look at the link
  Result<IncomingMessage> reply = call.Finish();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(ValueOf(*reply), 16);
  int64_t expected = 1;
  while (std::optional<IncomingMessage> message = stream.Read()) {
    EXPECT_EQ(ValueOf(*message), expected++);
  }
  EXPECT_EQ(expected, 5);
  EXPECT_TRUE(stream.Finish().ok());
  server_link_->MuteDoorbell(false);
}

// A Cancel read by a stream's own thread goes to a worker: its OnCancel callbacks never run
// inside the handler's Write (here they take a lock that Write's caller holds).
TEST_F(EngineTest, PolledOnCancelNeverRunsInsideTheStreamsOwnWrite) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 4;
  Start({}, client_options, /*polled=*/true);
  ClientCallHandle stream = Open(kWriteUnderLock, MethodKind::kServerStreaming, 0);
  ASSERT_TRUE(stream.Read().has_value());
  server_link_->MuteDoorbell(true);  // only the writer's look after its next write finds it
  stream.Cancel();
  seen_.Update([&] { seen_.go = 1; });
  EXPECT_TRUE(seen_.WaitFor([&] { return seen_.on_cancel_ran; }));
  server_link_->MuteDoorbell(false);
}

// A writer that read a window update left the link unparked; when it then pauses, the
// connection's timer reads the call that came meanwhile (no doorbell rang for it).
TEST_F(EngineTest, PolledACallWhileTheStreamWriterPausesIsReadByTheTimer) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 2;  // a window update after every message read
  Start({}, client_options, /*polled=*/true);
  ClientCallHandle stream = Open(kPaced, MethodKind::kServerStreaming, 3);
  seen_.Update([&] { seen_.go = 1; });
  ASSERT_TRUE(seen_.WaitFor([&] { return seen_.written == 1; }));
  server_link_->MuteDoorbell(true);
  ASSERT_TRUE(stream.Read().has_value());  // its window update waits in the link
  seen_.Update([&] { seen_.go = 2; });  // writes, then looks: reads the update, pauses
  ASSERT_TRUE(seen_.WaitFor([&] { return seen_.written == 2; }));
  ASSERT_TRUE(stream.Read().has_value());
  CallOptions bounded;
  bounded.deadline = kGenerous;  // a failure fails, not hangs
  ClientCallHandle call = Open(kDouble, MethodKind::kUnary, 4, bounded);
  // Had the timer parked the link before the call came (the client took more than 2 ms),
  // unmuting rings for it instead. A timer that never looks leaves the link unparked, so
  // unmuting rings nobody and the call fails at its deadline.
  if (!call.Wait(std::chrono::steady_clock::now() + 1s)) server_link_->MuteDoorbell(false);
  Result<IncomingMessage> reply = call.Finish();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(ValueOf(*reply), 8);
  server_link_->MuteDoorbell(false);
  seen_.Update([&] { seen_.go = 3; });
  ASSERT_TRUE(stream.Read().has_value());
  EXPECT_FALSE(stream.Read().has_value());
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(EngineTest, OnewayRunsItsHandlerAndGetsNoReply) {
  Start();
  ASSERT_TRUE(client_->Call(kRecord, MethodKind::kOneway, Request(7), {}).ok());
  EXPECT_TRUE(seen_.WaitFor([&] { return seen_.recorded == std::vector<int64_t>{7}; }));
}

TEST_F(EngineTest, RefusalsNameTheProblem) {
  Start();
  EXPECT_EQ(client_->Call(999, MethodKind::kUnary, Request(1), {}).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(client_->Call(kDouble, MethodKind::kServerStreaming, Request(1), {}).status().code(),
            StatusCode::kFailedPrecondition);
  MessageBuilder<Number> corrupt = NumberIn(client_->NewMessage(0), 1);
  uint8_t* root = corrupt.fbb().GetBufferPointer();  // the root offset, now far outside
  root[0] = root[1] = root[2] = 0xff;
  root[3] = 0x7f;
  OutgoingMessage garbage = std::move(corrupt).TakeMessage();
  Result<IncomingMessage> bad = client_->Call(kDouble, MethodKind::kUnary, std::move(garbage), {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("t.Engine.Double"), std::string::npos) << bad.status();
  EXPECT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(1), {}).ok());
}

TEST_F(EngineTest, StatusMessagesAreCutTo4KiB) {
  Start();
  Result<IncomingMessage> reply = client_->Call(kLong, MethodKind::kUnary, Request(1), {});
  EXPECT_EQ(reply.status().code(), StatusCode::kInternal);
  EXPECT_EQ(reply.status().message().size(), kMaxStatusMessageBytes);
}

TEST_F(EngineTest, ServerStreamArrivesInOrderThroughASmallWindow) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 4;
  Start({}, client_options);
  ClientReader<Number> reader(Open(kCount, MethodKind::kServerStreaming, 1000));
  int64_t expected = 0;
  for (auto& number : reader) EXPECT_EQ(number->value(), expected++);
  EXPECT_EQ(expected, 1000);
  EXPECT_TRUE(reader.Finish().ok());
}

TEST_F(EngineTest, DeadlineReachesTheHandler) {
  Start();
  CallOptions options;
  options.deadline = 5s;
  const auto before = CallContext::Clock::now();
  ClientReader<Number> reader(Open(kCount, MethodKind::kServerStreaming, 1, options));
  while (reader.Read()) {
  }
  ASSERT_TRUE(reader.Finish().ok());
  std::lock_guard lock(seen_.mutex);
  EXPECT_GT(seen_.deadline_seen, before + 4s);
  EXPECT_LT(seen_.deadline_seen, CallContext::Clock::now() + 5s + 1ms);
}

TEST_F(EngineTest, ServerEndingAStreamEarlyEndsItOnBothSides) {
  Start();
  ClientReader<Number> reader(Open(kFailAfter, MethodKind::kServerStreaming, 3));
  int count = 0;
  for (auto& number : reader) EXPECT_EQ(number->value(), count++);
  EXPECT_EQ(count, 3);
  Status end = reader.Finish();
  EXPECT_EQ(end.code(), StatusCode::kAborted);
  EXPECT_EQ(end.message(), "ended early on purpose");
}

TEST_F(EngineTest, ClientStreamIsSummed) {
  ServerOptions server_options;
  server_options.stream_window.messages = 2;
  Start(server_options);
  ClientWriter<Number, Number> writer(Open(kSum, MethodKind::kClientStreaming, std::nullopt));
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(writer.Write(NumberIn(writer.NewMessage().TakeMessage(), i)).ok());
  }
  Result<MessageView<Number>> sum = writer.Finish();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)->value(), 5050);
}

TEST_F(EngineTest, BidiEchoesEachMessage) {
  Start();
  ClientReaderWriter<Number, Number> chat(Open(kEcho, MethodKind::kBidiStreaming, std::nullopt));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(chat.Write(NumberIn(chat.NewMessage().TakeMessage(), i)).ok());
    std::optional<MessageView<Number>> echo = chat.Read();
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ((*echo)->value(), i + 1);
  }
  ASSERT_TRUE(chat.WritesDone().ok());
  EXPECT_FALSE(chat.Read().has_value());
  EXPECT_TRUE(chat.Finish().ok());
}

TEST_F(EngineTest, AStalledStreamHoldsItsWriterButNotOtherCalls) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 2;
  Start({}, client_options);
  ClientReader<Number> reader(Open(kCount, MethodKind::kServerStreaming, 10));
  // Nobody reads the stream: the handler writes its window, then waits.
  ASSERT_TRUE(seen_.WaitFor([&] { return seen_.written == 2; }));
  // Other calls on the connection go on meanwhile.
  Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(2), {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ValueOf(*reply), 4);
  {
    std::lock_guard lock(seen_.mutex);
    EXPECT_EQ(seen_.written, 2);  // still held by the window
  }
  int count = 0;
  for (auto& number : reader) EXPECT_EQ(number->value(), count++);
  EXPECT_EQ(count, 10);
  EXPECT_TRUE(reader.Finish().ok());
}

TEST_F(EngineTest, TheServerReaderMaySpinOnlyWhileNoCallIsInProgress) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 2;
  Start({}, client_options);
  std::shared_ptr<FakeLink> server_end = server_link_;
  // Between calls the next message is likely a caller's next request: spinning may pay.
  ASSERT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(1), {}).ok());
  EXPECT_TRUE(server_end->SpinningBecomes(true));
  // A stream's writer runs (held at its window): the reader must leave it the CPU.
  ClientReader<Number> reader(Open(kCount, MethodKind::kServerStreaming, 10));
  ASSERT_TRUE(seen_.WaitFor([&] { return seen_.written == 2; }));
  EXPECT_TRUE(server_end->SpinningBecomes(false));
  int count = 0;
  for (auto& number : reader) EXPECT_EQ(number->value(), count++);
  ASSERT_TRUE(reader.Finish().ok());
  // The stream's thread counts it ended just after its reply went out: wait for that, then
  // after the next call the reader may spin again.
  ASSERT_TRUE(server_->WaitDrained(CallContext::Clock::now() + kGenerous));
  ASSERT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(2), {}).ok());
  EXPECT_TRUE(server_end->SpinningBecomes(true));
}

TEST_F(EngineTest, CancelEndsTheCallOnBothSidesAndReleasesItsMessages) {
  ConnectOptions client_options;
  client_options.stream_window.messages = 8;
  Start({}, client_options);
  ClientReader<Number> reader(Open(kCount, MethodKind::kServerStreaming, 1000000));
  ASSERT_TRUE(reader.Read().has_value());
  ASSERT_TRUE(seen_.WaitFor([&] { return seen_.written >= 8; }));
  reader.Cancel();
  EXPECT_EQ(reader.Finish().code(), StatusCode::kCancelled);
  EXPECT_FALSE(reader.Read().has_value());
  // The server's writer fails and its handler returns: a new call still works.
  Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(5), {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ValueOf(*reply), 10);
}

TEST_F(EngineTest, HandlerIsToldOfACancelWithoutPolling) {
  Start();
  ClientCallHandle call = Open(kBlock, MethodKind::kUnary, 1);
  // The handler is waiting once its OnCancel callback is registered; cancel from here.
  AsyncReply<Number> reply(call);
  reply.Cancel();
  Result<MessageView<Number>> outcome = reply.Get();
  EXPECT_EQ(outcome.status().code(), StatusCode::kCancelled);
  EXPECT_TRUE(seen_.WaitFor([&] { return seen_.cancel_seen && seen_.on_cancel_ran; }));
}

TEST_F(EngineTest, ASlowHandlerAmongSparseCallsIsStillTakenOverSoOtherCallsGoOn) {
  Start();
  // Calls further apart than half the handler grace disarm the standby's alarm after each
  // handler that ends in time; one that does not end must still be taken over.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(i), {}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the gap under test
  }
  AsyncReply<Number> blocked(Open(kBlock, MethodKind::kUnary, 1));
  CallOptions soon;  // the take-over comes after a millisecond's grace: 10 s is generous
  soon.deadline = std::chrono::seconds(10);
  Result<IncomingMessage> other = client_->Call(kDouble, MethodKind::kUnary, Request(4), soon);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(ValueOf(*other), 8);
  blocked.Cancel();
  EXPECT_EQ(blocked.Get().status().code(), StatusCode::kCancelled);
}

TEST_F(EngineTest, AsyncDeadlineExpiresWithoutAWaiter) {
  Start();
  CallOptions options;
  // Long enough that the server has the call running when it expires, even under TSan on
  // one CPU (a call read after its deadline is refused without running its handler).
  options.deadline = 300ms;
  std::promise<Status> done;
  AsyncReply<Number> reply(Open(kBlock, MethodKind::kUnary, 1, options));
  reply.Then([&](Result<MessageView<Number>> outcome) { done.set_value(outcome.status()); });
  std::future<Status> outcome = done.get_future();
  ASSERT_EQ(outcome.wait_for(kGenerous), std::future_status::ready);
  EXPECT_EQ(outcome.get().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(seen_.WaitFor([&] { return seen_.cancel_seen; }));
}

TEST_F(EngineTest, ThousandsOfAsyncCallsCompleteThroughCallbacks) {
  Start();
  constexpr int kCalls = 3000;
  std::mutex mutex;
  std::condition_variable all_done;
  int done = 0;
  int64_t sum = 0;
  for (int i = 0; i < kCalls; ++i) {
    AsyncReply<Number> reply(Open(kDouble, MethodKind::kUnary, i));
    reply.Then([&](Result<MessageView<Number>> outcome) {
      std::lock_guard lock(mutex);
      if (outcome.ok()) sum += (*outcome)->value();
      ++done;
      all_done.notify_all();
    });
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(all_done.wait_for(lock, kGenerous, [&] { return done == kCalls; }));
  EXPECT_EQ(sum, int64_t{kCalls} * (kCalls - 1));
}

TEST_F(EngineTest, CallsInFlightAreBoundedWithBackpressureOrRefusal) {
  ConnectOptions client_options;
  client_options.max_calls_in_flight = 2;
  ServerOptions server_options;
  // Two handlers block; a third worker keeps reading (for the Cancel frames).
  server_options.workers_per_connection = 3;
  Start(server_options, client_options);
  AsyncReply<Number> first(Open(kBlock, MethodKind::kUnary, 1));
  AsyncReply<Number> second(Open(kBlock, MethodKind::kUnary, 1));
  CallOptions no_wait;
  no_wait.wait_for_capacity = false;
  EXPECT_EQ(client_->Call(kDouble, MethodKind::kUnary, Request(1), no_wait).status().code(),
            StatusCode::kResourceExhausted);
  CallOptions short_wait;
  short_wait.deadline = 10ms;
  EXPECT_EQ(client_->Call(kDouble, MethodKind::kUnary, Request(1), short_wait).status().code(),
            StatusCode::kDeadlineExceeded);
  first.Cancel();
  second.Cancel();
  EXPECT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(1), {}).ok());
}

// Streams whose replies nobody has read yet still end when the server answers, so a caller
// waiting for capacity gets it (the completion thread reads for it).
TEST_F(EngineTest, ACallerWaitingForCapacityIsNotStuckBehindUnreadStreamReplies) {
  ConnectOptions client_options;
  client_options.max_calls_in_flight = 2;
  Start({}, client_options);
  std::vector<ClientCallHandle> uploads;
  for (int64_t value : {20, 22}) {
    uploads.push_back(Open(kSum, MethodKind::kClientStreaming, std::nullopt));
    ClientCallHandle& upload = uploads.back();
    ASSERT_TRUE(upload.Write(std::move(NumberIn(upload.NewMessage(0), value)).TakeMessage()).ok());
  }
  for (ClientCallHandle& upload : uploads) ASSERT_TRUE(upload.WritesDone().ok());
  ASSERT_TRUE(server_link_->WaitQueuedOut(2, kGenerous));  // both replies, unread
  CallOptions options;
  options.deadline = kGenerous;
  Result<IncomingMessage> reply = client_->Call(kDouble, MethodKind::kUnary, Request(4), options);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(ValueOf(*reply), 8);
  int64_t sum = 0;
  for (ClientCallHandle& upload : uploads) {
    Result<IncomingMessage> total = upload.Finish();
    ASSERT_TRUE(total.ok()) << total.status().ToString();
    sum += ValueOf(*total);
  }
  EXPECT_EQ(sum, 42);
}

TEST_F(EngineTest, ADeferredReplyIsSentFromAnotherThread) {
  Start();
  AsyncReply<Number> reply(Open(kLater, MethodKind::kUnary, 41));
  EXPECT_FALSE(reply.Wait(std::chrono::steady_clock::now()));
  seen_.Update([&] { seen_.written = 1; });
  Result<MessageView<Number>> outcome = reply.Get();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ((*outcome)->value(), 42);
}

TEST_F(EngineTest, AClientStreamsDeferredReplyIsSentFromAnotherThread) {
  Start();
  ClientCallHandle upload = Open(kSumLater, MethodKind::kClientStreaming, std::nullopt);
  for (int64_t value : {1, 2, 39}) {
    ASSERT_TRUE(upload.Write(std::move(NumberIn(upload.NewMessage(0), value)).TakeMessage()).ok());
  }
  ASSERT_TRUE(upload.WritesDone().ok());
  EXPECT_FALSE(upload.Wait(std::chrono::steady_clock::now()));
  seen_.Update([&] { seen_.written = 1; });
  Result<IncomingMessage> outcome = upload.Finish();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(ValueOf(*outcome), 42);
}

TEST_F(EngineTest, DrainingRefusesNewCallsAndWaitsForThoseInFlight) {
  Start();
  AsyncReply<Number> in_flight(Open(kLater, MethodKind::kUnary, 1));
  // The deferred call is open on the server once its handler ran: a unary call after it on
  // the same connection has been read, so the Later request has too.
  ASSERT_TRUE(client_->Call(kDouble, MethodKind::kUnary, Request(1), {}).ok());
  server_->Drain();
  Result<IncomingMessage> refused = client_->Call(kDouble, MethodKind::kUnary, Request(1), {});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(server_->WaitDrained(std::chrono::steady_clock::now()));
  seen_.Update([&] { seen_.written = 1; });
  EXPECT_TRUE(server_->WaitDrained(std::chrono::steady_clock::now() + kGenerous));
  Result<MessageView<Number>> outcome = in_flight.Get();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ((*outcome)->value(), 2);
}

// A scripted server that writes past the window it was given: the client drops the connection.
TEST(EngineProtocolTest, AServerWritingPastTheWindowEndsTheConnection) {
  auto [client_end, server_end] = FakeLink::Pair();
  ConnectOptions options;
  options.stream_window.messages = 2;
  auto client = ClientEngine::Start(client_end, "fake://scripted", options);
  OutgoingMessage request = std::move(NumberIn(client->NewMessage(0), 1)).TakeMessage();
  ClientReader<Number> reader(
      ClientCallHandle(client->Open(kCount, MethodKind::kServerStreaming, &request, {})));
  const auto soon = [] { return std::chrono::steady_clock::now() + kGenerous; };
  Result<InboundMessage> opened = server_end->Receive(soon());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->header.window_messages, 2U);
  // Three stream messages arrive while the client waits for another call (nobody reads the
  // stream), so the client holds more than the window it granted.
  std::thread server([&, server_end = server_end] {
    Result<InboundMessage> unary = server_end->Receive(soon());
    ASSERT_TRUE(unary.ok());
    for (int i = 0; i < 3; ++i) {
      CallHeader header;
      header.type = FrameType::kMessage;
      header.call_id = opened->header.call_id;
      OutgoingMessage message = std::move(NumberIn(server_end->NewMessage(0), i)).TakeMessage();
      ASSERT_TRUE(server_end->Send(header, &message, soon()).ok());
    }
  });
  OutgoingMessage other = std::move(NumberIn(client->NewMessage(0), 1)).TakeMessage();
  CallOptions bounded;
  bounded.deadline = kGenerous;
  Result<IncomingMessage> outcome = client->Call(kDouble, MethodKind::kUnary, std::move(other), bounded);
  server.join();
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status();
  EXPECT_FALSE(client->connected());
  while (reader.Read()) {
  }
  EXPECT_EQ(reader.Finish().code(), StatusCode::kUnavailable);
}

// A reply to a call nobody waits for any more is dropped, and its memory released.
TEST(EngineProtocolTest, ALateReplyIsDroppedAndReleased) {
  auto [client_end, server_end] = FakeLink::Pair();
  auto client = ClientEngine::Start(client_end, "fake://scripted", {});
  CallHeader reply;
  reply.type = FrameType::kReply;
  reply.call_id = 12345;
  OutgoingMessage message = std::move(NumberIn(server_end->NewMessage(0), 1)).TakeMessage();
  ASSERT_TRUE(server_end->Send(reply, &message, std::chrono::steady_clock::time_point::max()).ok());
  // The next call reads the stray reply on its way to its own (answered below).
  std::thread server([&] {
    Result<InboundMessage> request = server_end->Receive(std::chrono::steady_clock::now() + kGenerous);
    ASSERT_TRUE(request.ok());
    CallHeader answer;
    answer.type = FrameType::kReply;
    answer.call_id = request->header.call_id;
    answer.status_code = static_cast<uint32_t>(StatusCode::kNotFound);
    answer.status_message = "scripted";
    ASSERT_TRUE(server_end->Send(answer, nullptr, std::chrono::steady_clock::time_point::max()).ok());
  });
  OutgoingMessage request = std::move(NumberIn(client->NewMessage(0), 1)).TakeMessage();
  Result<IncomingMessage> outcome = client->Call(kDouble, MethodKind::kUnary, std::move(request), {});
  server.join();
  EXPECT_EQ(outcome.status(), Status(StatusCode::kNotFound, "scripted"));
  // Released: the stray reply (by the client) and the request (by the scripted server).
  EXPECT_EQ(client_end->released(), 2);
}

}  // namespace
}  // namespace ferry::internal
