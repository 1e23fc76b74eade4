#include "stream_cases.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "bench.ferry.h"
#include "bench_support.h"
#include "ferry/ferry.h"
#include "measure.h"
#include "payload.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kStreamPayloads[] = {64, 1 << 20};
constexpr size_t kUnaryPayload = 64;
constexpr uint32_t kInFlight[] = {1, 8, 64};

// How long a measured stream, or a measured run of unary calls, is meant to take (times the
// scale); its message count comes from the rate of the warm-up before it.
constexpr std::chrono::nanoseconds kStreamBudget = 800ms;
constexpr std::chrono::nanoseconds kUnaryBudget = 500ms;

// Messages (calls) and the seconds they took. lost: messages the server wrote that never
// reached the reader although the stream ended OK (see LostAtEnd).
struct Timed {
  uint64_t count;
  double seconds;
  uint64_t lost = 0;
};

uint64_t Scaled(uint64_t n, double scale, uint64_t least) {
  return std::max<uint64_t>(least, static_cast<uint64_t>(static_cast<double>(n) * scale));
}

// What the rate of `warmup` makes in `budget` times `scale`, between `least` and `most`.
uint64_t CountFor(const Timed& warmup, std::chrono::nanoseconds budget, double scale,
                  uint64_t least, uint64_t most) {
  const double rate = warmup.seconds > 0 ? static_cast<double>(warmup.count) / warmup.seconds
                                         : static_cast<double>(most);
  const double wanted = rate * std::chrono::duration<double>(budget).count() * scale;
  return std::clamp<uint64_t>(static_cast<uint64_t>(wanted), least, most);
}

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Throws unless `got` is `expected` (in the loops: no string is built unless it fails).
void Expect(const char* what, uint64_t got, uint64_t expected) {
  if (got != expected) {
    throw BenchError(std::string(what) + ": got " + std::to_string(got) + ", expected " +
                     std::to_string(expected));
  }
}

void ExpectOk(const ferry::Status& status, const std::string& what) {
  if (!status.ok()) throw BenchError(what + " failed: " + status.ToString());
}

// The messages of a stream that ended OK after `read` of `written`: the reader checks each
// message's number as it comes, so any shortfall is the stream's tail, lost although the
// stream ended OK. The runtime must never do that (a stream's messages stay readable after
// its status arrives); counted and reported rather than fatal, so one such stream does not
// end the whole run, and printed in the table.
uint64_t LostAtEnd(const char* what, uint64_t read, uint64_t written) {
  if (read > written) Expect(what, read, written);
  return written - read;
}

// The bytes ferry copied for one measured stream, both sides: the client's from its channel,
// the server's from Copied calls before and after. Those calls' own frames (a reply one way,
// the next request the other) are counted by the server too; a pair of Copied calls in a row
// measures them, and that is taken off (they are the same size every time).
class CopyMeter {
 public:
  CopyMeter(const ferry::Channel& channel, fb::Bench::Client& client)
      : channel_(channel), client_(client) {}

  void Start() {
    const uint64_t first = ServerCopied();
    server_before_ = ServerCopied();
    calls_overhead_ = server_before_ - first;
    client_before_ = channel_.bytes_copied();
  }

  uint64_t Stop() {
    const uint64_t client = channel_.bytes_copied() - client_before_;
    const uint64_t server = ServerCopied() - server_before_;
    return client + (server > calls_overhead_ ? server - calls_overhead_ : 0);
  }

 private:
  uint64_t ServerCopied() {
    auto request = client_.NewCopiedRequest(kFramingBytes);
    request.Finish(fb::CreateEmpty(request.fbb()));
    auto ack = client_.Copied(std::move(request));
    ExpectOk(ack.status(), "Copied");
    return (*ack)->server_bytes_copied();
  }

  const ferry::Channel& channel_;
  fb::Bench::Client& client_;
  uint64_t server_before_ = 0;
  uint64_t calls_overhead_ = 0;
  uint64_t client_before_ = 0;
};

// Pull: the server writes `count` messages; this thread reads them in place.
Timed ServerStream(fb::Bench::Client& client, size_t payload, uint64_t count) {
  auto request = client.NewPullRequest(kFramingBytes);
  request.Finish(fb::CreatePullRequest(request.fbb(), count, payload));
  const Clock::time_point t0 = Clock::now();
  auto reader = client.Pull(std::move(request));
  uint64_t n = 0;
  for (auto& message : reader) {
    Expect("Pull: last byte", LastByte(*message), FillByte(++n));
  }
  const ferry::Status status = reader.Finish();
  const double seconds = Since(t0);
  ExpectOk(status, "Pull of " + std::to_string(payload) + " B messages");
  return {n, seconds, LostAtEnd("Pull: messages read", n, count)};
}

// Push: this thread writes `count` messages, then waits for the server's Ack.
Timed ClientStream(fb::Bench::Client& client, size_t payload, uint64_t count) {
  const Clock::time_point t0 = Clock::now();
  auto writer = client.Push();
  for (uint64_t n = 1; n <= count; ++n) {
    auto message = writer.NewMessage(payload + kFramingBytes);
    FinishPayload(message, payload, FillByte(n));
    if (!writer.Write(std::move(message)).ok()) break;  // Finish() says why
  }
  auto ack = writer.Finish();
  const double seconds = Since(t0);
  ExpectOk(ack.status(), "Push of " + std::to_string(payload) + " B messages");
  Expect("Push: messages the server read", (*ack)->count(), count);
  Expect("Push: last byte", (*ack)->last(), FillByte(count));
  return {count, seconds};
}

// Echo, pipelined: a writer thread writes `count` messages (as fast as the window lets it)
// while this thread reads the server's Acks.
Timed BidiStream(fb::Bench::Client& client, size_t payload, uint64_t count) {
  const Clock::time_point t0 = Clock::now();
  auto stream = client.Echo();
  std::thread writer([&stream, payload, count] {
    for (uint64_t n = 1; n <= count; ++n) {
      auto message = stream.NewMessage(payload + kFramingBytes);
      FinishPayload(message, payload, FillByte(n));
      if (!stream.Write(std::move(message)).ok()) return;  // Finish() says why
    }
    (void)stream.WritesDone();
  });
  uint64_t n = 0;
  bool in_order = true;
  for (auto& ack : stream) {
    ++n;
    if (ack->count() != n || ack->last() != FillByte(n)) {
      in_order = false;
      stream.Cancel();  // ends the writer's Write too
    }
  }
  writer.join();
  const ferry::Status status = stream.Finish();
  const double seconds = Since(t0);
  if (!in_order) {
    throw BenchError("Echo: Ack " + std::to_string(n) + " does not answer message " +
                     std::to_string(n));
  }
  ExpectOk(status, "Echo of " + std::to_string(payload) + " B messages");
  return {n, seconds, LostAtEnd("Echo: Acks read", n, count)};
}

// Send, back to back.
Timed SyncCalls(fb::Bench::Client& client, uint64_t count) {
  const Clock::time_point t0 = Clock::now();
  for (uint64_t n = 1; n <= count; ++n) {
    auto request = client.NewSendRequest(kUnaryPayload + kFramingBytes);
    FinishPayload(request, kUnaryPayload, FillByte(n));
    auto ack = client.Send(std::move(request));
    ExpectOk(ack.status(), "Send");
    Expect("Send: last byte", (*ack)->last(), FillByte(n));
  }
  return {count, Since(t0)};
}

// SendAsync with `in_flight` calls open: call n waits for call n - in_flight's reply first.
Timed AsyncCalls(fb::Bench::Client& client, uint64_t count, uint32_t in_flight) {
  std::vector<std::optional<ferry::AsyncReply<fb::Ack>>> open(in_flight);
  auto collect = [&open, in_flight](uint64_t n) {  // call n's reply, if it was made
    std::optional<ferry::AsyncReply<fb::Ack>>& slot = open[n % in_flight];
    if (!slot) return;
    auto ack = slot->Get();
    slot.reset();
    ExpectOk(ack.status(), "SendAsync");
    Expect("SendAsync: last byte", (*ack)->last(), FillByte(n));
  };
  const Clock::time_point t0 = Clock::now();
  for (uint64_t n = 1; n <= count; ++n) {
    if (n > in_flight) collect(n - in_flight);
    auto request = client.NewSendRequest(kUnaryPayload + kFramingBytes);
    FinishPayload(request, kUnaryPayload, FillByte(n));
    open[n % in_flight].emplace(client.SendAsync(std::move(request)));
  }
  for (uint64_t n = count > in_flight ? count - in_flight + 1 : 1; n <= count; ++n) collect(n);
  return {count, Since(t0)};
}

}  // namespace

void RunStreamCases(const ferry::Channel& channel, const std::string& transport,
                    const std::string& placement, double scale,
                    const std::function<void(const RateResult&)>& report) {
  fb::Bench::Client client(channel);
  CopyMeter copies(channel, client);
  struct Kind {
    const char* name;
    Timed (*run)(fb::Bench::Client&, size_t, uint64_t);
  };
  const Kind kinds[] = {{"server_stream", &ServerStream},
                        {"client_stream", &ClientStream},
                        {"bidi_stream", &BidiStream}};
  for (const Kind& kind : kinds) {
    for (const size_t payload : kStreamPayloads) {
      const bool large = payload >= (1u << 20);
      const Timed warmup = kind.run(client, payload, Scaled(large ? 40 : 4000, scale, 4));
      const uint64_t count =
          CountFor(warmup, kStreamBudget, scale, 4, large ? 200'000 : 20'000'000);
      copies.Start();
      const Timed measured = kind.run(client, payload, count);
      RateResult result;
      result.kind = kind.name;
      result.transport = transport;
      result.placement = placement;
      result.payload = payload;
      result.iters = measured.count;
      result.seconds = measured.seconds;
      result.counts_copies = true;
      result.bytes_copied = copies.Stop();
      result.lost = measured.lost;
      report(result);
    }
  }
}

void RunUnaryRateCases(const ferry::Channel& channel, const std::string& transport,
                       const std::string& placement, double scale,
                       const std::function<void(const RateResult&)>& report) {
  fb::Bench::Client client(channel);
  const uint64_t warmup_calls = Scaled(2000, scale, 20);
  auto measure = [&](const char* kind, uint32_t in_flight, auto&& run) {
    const Timed warmup = run(warmup_calls);
    const Timed measured = run(CountFor(warmup, kUnaryBudget, scale, 20, 10'000'000));
    RateResult result;
    result.kind = kind;
    result.transport = transport;
    result.placement = placement;
    result.payload = kUnaryPayload;
    result.in_flight = in_flight;
    result.iters = measured.count;
    result.seconds = measured.seconds;
    report(result);
  };
  measure("sync_unary", 0, [&client](uint64_t count) { return SyncCalls(client, count); });
  for (const uint32_t in_flight : kInFlight) {
    measure("async_unary", in_flight, [&client, in_flight](uint64_t count) {
      return AsyncCalls(client, count, in_flight);
    });
  }
}

}  // namespace ferry_bench
