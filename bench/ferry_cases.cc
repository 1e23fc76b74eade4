#include "ferry_cases.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "bench.ferry.h"
#include "ferry/ferry.h"
#include "measure.h"
#include "bench_support.h"
#include "paced_cases.h"
#include "stream_cases.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Untimed: builds call n's request in transport memory (a slot, on shared memory) with its
// payload written in place. Timed: the call. Checked: the server read the byte written last.
class SendCase {
 public:
  SendCase(fb::Bench::Client& client, size_t payload) : client_(client), payload_(payload) {}

  int64_t Call() {
    const uint8_t byte = FillByte(++calls_);
    auto request = client_.NewSendRequest(payload_ + kFramingBytes);
    uint8_t* bytes = nullptr;
    auto data = request.fbb().CreateUninitializedVector(payload_, &bytes);
    std::memset(bytes, byte, payload_);
    request.Finish(fb::CreatePayload(request.fbb(), data));

    const Clock::time_point t0 = Clock::now();
    auto ack = client_.Send(std::move(request));
    const Clock::time_point t1 = Clock::now();

    if (!ack.ok()) {
      throw BenchError("Send of " + std::to_string(payload_) + " bytes failed: " +
                       ack.status().ToString());
    }
    if ((*ack)->last() != byte) {
      throw BenchError("the server read byte " + std::to_string((*ack)->last()) + ", expected " +
                       std::to_string(byte));
    }
    server_bytes_copied_ = (*ack)->server_bytes_copied();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }

  // The server's Server::bytes_copied() as of the latest reply.
  uint64_t server_bytes_copied() const { return server_bytes_copied_; }

 private:
  fb::Bench::Client& client_;
  const size_t payload_;
  uint64_t calls_ = 0;
  uint64_t server_bytes_copied_ = 0;
};

}  // namespace

ChildProcess StartBenchServer(const std::string& self_exe, const std::string& listen,
                              const std::string& cpu, const std::vector<std::string>& extra,
                              std::string* endpoint) {
  std::vector<std::string> argv = {self_exe, "--serve", listen, "--cpu", cpu};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ChildProcess server = ChildProcess::Exec(argv);
  const std::optional<std::string> line = server.ReadLine(10s);
  if (!line || line->rfind("ready ", 0) != 0) {
    throw BenchError("the bench server did not start (expected \"ready <endpoint>\", got " +
                     (line ? "\"" + *line + "\"" : std::string("nothing")) + ")");
  }
  *endpoint = line->substr(6);
  return server;
}

void StopBenchServer(ChildProcess& server) {
  const pid_t pid = server.pid();  // Wait() forgets it once the child is reaped
  server.Signal(SIGTERM);
  const std::optional<int> status = server.Wait(10s);
  if (!status) throw BenchError("the bench server did not exit within 10 s of SIGTERM");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw BenchError("the bench server " + DescribeWaitStatus(*status));
  }
  const std::vector<std::string> left = FerryFilesInDevShm({pid});
  if (!left.empty()) throw BenchError("ferry left /dev/shm/" + left.front() + " behind");
}

const std::vector<FerryTransport>& FerryTransports() {
  static const std::vector<FerryTransport> transports = {
      {"shm", "shm://bench", true, "shm"},
      {"unix", "unix://{dir}/bench.sock", false, "unix"},
      {"tcp", "tcp://127.0.0.1:0", false, "tcp"},
      {"tcp_upgraded", "tcp://127.0.0.1:0", true, "shm"},
      {"mq", "mq://bench", false, "mq"},
  };
  return transports;
}

void RunFerryCases(const std::string& self_exe, const FerryTransport& transport,
                   const std::string& runtime_dir, const std::string& placement, int server_cpu,
                   double scale, const FerryCaseGroups& groups,
                   const std::function<void(const CaseResult&)>& report,
                   const std::function<void(const RateResult&)>& report_rate,
                   const std::function<void(const PacedResult&)>& report_paced) {
  std::string listen = transport.listen;
  if (const size_t at = listen.find("{dir}"); at != std::string::npos) {
    listen.replace(at, 5, runtime_dir);
  }
  std::string endpoint;
  ChildProcess server =
      StartBenchServer(self_exe, listen, std::to_string(server_cpu), {}, &endpoint);
  {
    ferry::ConnectOptions options;
    options.allow_shm = transport.allow_shm;
    ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint, options);
    if (!channel.ok()) {
      throw BenchError("connecting to " + endpoint + ": " + channel.status().ToString());
    }
    if (channel->transport() != transport.expected) {
      throw BenchError(transport.label + ": expected the " + transport.expected +
                       " transport, got " + std::string(channel->transport()));
    }
    fb::Bench::Client client(*channel);
    if (groups.unary) {
      for (const size_t size : kPayloadSizes) {
        SendCase one(client, size);
        const Plan plan = PlanFor(size, scale);
        auto call = [&one](uint64_t) { return one.Call(); };
        RunCalls(plan.warmup_calls, plan.warmup_budget, call);
        // Copies are counted from here: the client's over the measured calls, the server's
        // between the last warm-up reply and the last measured one (each reply reports the
        // count as it was while being built, one reply behind; the Ack is too small to grow).
        const uint64_t client_before = channel->bytes_copied();
        const uint64_t server_before = one.server_bytes_copied();
        std::vector<int64_t> times = RunCalls(plan.calls, plan.budget, call);
        const uint64_t copied = (channel->bytes_copied() - client_before) +
                                (one.server_bytes_copied() - server_before);
        report(Summarize(transport.label, placement, size, times, copied));
      }
    }
    if (groups.streams) {
      RunStreamCases(*channel, transport.label, placement, scale, report_rate);
    }
    if (groups.async) {
      RunUnaryRateCases(*channel, transport.label, placement, scale, report_rate);
    }
    if (groups.paced) {
      RunPacedFerryCases(*channel, transport.label, placement, scale, report_paced);
    }
  }
  StopBenchServer(server);
}

}  // namespace ferry_bench
