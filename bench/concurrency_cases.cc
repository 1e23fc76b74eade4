// The concurrency cases: callers as threads or processes, the latency histogram a caller
// process sends back, the raw_uds caller and its server, and the order the cases run in.
#include "concurrency_cases.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <latch>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "bench.ferry.h"
#include "bench_support.h"
#include "ferry/ferry.h"
#include "ferry_cases.h"
#include "measure.h"
#include "payload.h"
#include "support/serve_until_signal.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kPayload = 64;
constexpr size_t kRawReply = 8;
constexpr uint32_t kCallerCounts[] = {1, 4, 16, 64};
constexpr int kWarmupCalls = 20;
constexpr std::chrono::nanoseconds kBudget = 1s;  // per case, times the scale
constexpr std::chrono::nanoseconds kLeastBudget = 100ms;
// A call that takes this long fails: a stuck server costs a case this much, not the run.
constexpr std::chrono::milliseconds kCallDeadline = 10s;
// Caller processes are started, connected and warmed up within this, or counted as failed.
constexpr std::chrono::milliseconds kStartDeadline = 30s;

std::chrono::milliseconds Remaining(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Call times in ns, in buckets no wider than 1/128 of their lower bound (exact below 128 ns):
// a caller process sends its times back in one line, and threads and processes get their
// percentiles the same way.
class LatencyHistogram {
 public:
  void Add(int64_t ns) {
    ++counts_[Index(static_cast<uint64_t>(std::max<int64_t>(ns, 0)))];
    ++count_;
  }

  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
  }

  // The nearest rank (as stats.cc's percentiles), as the midpoint of its bucket; 0 when empty.
  double PercentileNs(double p) const {
    if (count_ == 0) return 0;
    const uint64_t rank = std::clamp<uint64_t>(
        static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_))), 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return Midpoint(i);
    }
    return Midpoint(kBuckets - 1);
  }

  // "<bucket>:<count>" of every bucket in use, space-separated.
  std::string Encode() const {
    std::string text;
    for (size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0) continue;
      if (!text.empty()) text += ' ';
      text += std::to_string(i) + ':' + std::to_string(counts_[i]);
    }
    return text;
  }

  // Adds what Encode() wrote; false, adding nothing, when `text` is not that.
  bool Decode(const std::string& text) {
    LatencyHistogram parsed;
    const char* at = text.c_str();
    while (*at != '\0') {
      char* end = nullptr;
      const unsigned long long bucket = std::strtoull(at, &end, 10);
      if (end == at || *end != ':' || bucket >= kBuckets) return false;
      at = end + 1;
      const unsigned long long count = std::strtoull(at, &end, 10);
      if (end == at || (*end != ' ' && *end != '\0')) return false;
      parsed.counts_[bucket] += count;
      parsed.count_ += count;
      at = *end == ' ' ? end + 1 : end;
    }
    Merge(parsed);
    return true;
  }

 private:
  static constexpr int kBits = 7;
  static constexpr size_t kBuckets = size_t{65 - kBits} << kBits;

  static size_t Index(uint64_t ns) {
    if (ns < (uint64_t{1} << kBits)) return static_cast<size_t>(ns);
    const int shift = 63 - __builtin_clzll(ns) - kBits;
    return (static_cast<size_t>(shift + 1) << kBits) +
           static_cast<size_t>((ns >> shift) - (uint64_t{1} << kBits));
  }

  static double Midpoint(size_t bucket) {
    if (bucket < (size_t{1} << kBits)) return static_cast<double>(bucket);
    const int shift = static_cast<int>(bucket >> kBits) - 1;
    const uint64_t mantissa = (bucket & ((size_t{1} << kBits) - 1)) + (uint64_t{1} << kBits);
    return static_cast<double>(mantissa << shift) +
           static_cast<double>((uint64_t{1} << shift) - 1) / 2;
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets);
  uint64_t count_ = 0;
};

// One caller's calls.
struct Tally {
  uint64_t calls = 0;   // answered correctly, in the window
  uint64_t failed = 0;  // warm-up included
  double seconds = 0;   // the window: from its start to the end of its last call
  LatencyHistogram latency;
  std::string first_error;
};

// A caller: Call(error) makes one 64 B call and returns its timed part in ns, or nothing when
// it failed (the reason then goes to *error, if that is still empty).
template <class Caller>
void Warm(Caller& caller, Tally& tally) {
  for (int i = 0; i < kWarmupCalls; ++i) {
    if (!caller.Call(&tally.first_error)) ++tally.failed;
  }
}

// Calls back to back until `end` (at least one call).
template <class Caller>
void CallUntil(Caller& caller, Clock::time_point end, Tally& tally) {
  const Clock::time_point start = Clock::now();
  Clock::time_point now;
  do {
    if (const std::optional<int64_t> ns = caller.Call(&tally.first_error)) {
      ++tally.calls;
      tally.latency.Add(*ns);
    } else {
      ++tally.failed;
    }
    now = Clock::now();
  } while (now < end);
  tally.seconds = std::chrono::duration<double>(now - start).count();
}

// Send over a channel: the request is built before the timed part (as in the round trips),
// the reply's byte checked after it.
class FerryCaller {
 public:
  explicit FerryCaller(const ferry::Channel& channel) : client_(channel) {}

  std::optional<int64_t> Call(std::string* error) {
    const uint8_t byte = FillByte(++calls_);
    auto request = client_.NewSendRequest(kPayload + kFramingBytes);
    FinishPayload(request, kPayload, byte);
    ferry::CallOptions options;
    options.deadline = kCallDeadline;
    const Clock::time_point t0 = Clock::now();
    auto ack = client_.Send(std::move(request), options);
    const Clock::time_point t1 = Clock::now();
    if (!ack.ok()) {
      if (error->empty()) *error = "Send: " + ack.status().ToString();
      return std::nullopt;
    }
    if ((*ack)->last() != byte) {
      if (error->empty()) {
        *error = "Send: the server read byte " + std::to_string((*ack)->last()) + ", expected " +
                 std::to_string(byte);
      }
      return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }

 private:
  fb::Bench::Client client_;
  uint64_t calls_ = 0;
};

// MSG_NOSIGNAL: a peer that went away is a failed call, not SIGPIPE.
bool WriteFull(int fd, const uint8_t* bytes, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, bytes, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// raw_uds: a connection of its own to the raw server; 64 B written, 8 bytes read back, plain
// system calls. Reads and writes give up after kCallDeadline (SO_RCVTIMEO, SO_SNDTIMEO).
class RawCaller {
 public:
  RawCaller() = default;
  RawCaller(RawCaller&& other) noexcept : fd_(std::exchange(other.fd_, -1)), calls_(other.calls_) {}
  RawCaller& operator=(RawCaller&&) = delete;
  ~RawCaller() {
    if (fd_ >= 0) close(fd_);
  }

  // False, with the reason in *error, when the server at `path` cannot be reached.
  bool Connect(const std::string& path, std::string* error) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) {
      *error = "raw_uds: socket path too long: " + path;
      return false;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 ||
        connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      *error = "raw_uds: connecting to " + path + ": " + std::strerror(errno);
      return false;
    }
    const timeval timeout{std::chrono::duration_cast<std::chrono::seconds>(kCallDeadline).count(),
                          0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    return true;
  }

  std::optional<int64_t> Call(std::string* error) {
    const uint8_t byte = FillByte(++calls_);
    std::memset(request_, byte, sizeof(request_));  // untimed, as the other cases
    uint8_t reply[kRawReply];
    const Clock::time_point t0 = Clock::now();
    const bool done =
        WriteFull(fd_, request_, sizeof(request_)) && ReadFull(fd_, reply, sizeof(reply));
    const Clock::time_point t1 = Clock::now();
    if (!done) {
      if (error->empty()) error->assign("raw_uds: ").append(std::strerror(errno));
      return std::nullopt;
    }
    if (reply[0] != byte) {
      if (error->empty()) *error = "raw_uds: the server read a wrong byte";
      return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }

 private:
  int fd_ = -1;
  uint64_t calls_ = 0;
  uint8_t request_[kPayload] = {};
};

// The raw server's side of one connection, until the caller goes away.
void ServeRawConnection(int fd) {
  uint8_t request[kPayload];
  while (ReadFull(fd, request, sizeof(request))) {
    const uint8_t reply[kRawReply] = {request[kPayload - 1]};
    if (!WriteFull(fd, reply, sizeof(reply))) break;
  }
  close(fd);
}

// `callers` threads, each with its own caller from make_caller(&error) (nothing: it could
// not connect, one failed call): each warms up, then all start at once and call for `budget`.
template <class MakeCaller>
std::vector<Tally> RunThreads(uint32_t callers, std::chrono::nanoseconds budget,
                              const MakeCaller& make_caller) {
  std::vector<Tally> tallies(callers);
  std::latch ready(callers);
  std::latch go(1);
  Clock::time_point end;  // set before `go` opens
  std::vector<std::thread> threads;
  threads.reserve(callers);
  for (uint32_t i = 0; i < callers; ++i) {
    threads.emplace_back([&tallies, &ready, &go, &end, &make_caller, i] {
      Tally& tally = tallies[i];
      auto caller = make_caller(&tally.first_error);
      if (caller) {
        Warm(*caller, tally);
      } else {
        ++tally.failed;
      }
      ready.count_down();
      go.wait();
      if (caller) CallUntil(*caller, end, tally);
    });
  }
  ready.wait();
  end = Clock::now() + budget;
  go.count_down();
  for (std::thread& thread : threads) thread.join();
  return tallies;
}

// Reads "result <calls> <failed> <seconds> <histogram>" into `tally`; false if it is not that.
bool ParseResult(const std::string& line, Tally& tally) {
  std::istringstream in(line);
  std::string word;
  if (!(in >> word) || word != "result" || !(in >> tally.calls >> tally.failed >> tally.seconds)) {
    return false;
  }
  std::string rest;
  std::getline(in >> std::ws, rest);
  return tally.latency.Decode(rest);
}

// `callers` processes, `self_exe --concurrency-client ...`, each with a channel (connection)
// of its own. A process that does not get ready, or does not report, is one failed call.
std::vector<Tally> RunProcesses(const std::string& self_exe, const std::string& transport,
                                const std::string& endpoint, uint32_t callers,
                                std::chrono::nanoseconds budget) {
  std::vector<Tally> tallies(callers);
  std::vector<ChildProcess> children;
  children.reserve(callers);
  for (uint32_t i = 0; i < callers; ++i) {
    children.push_back(ChildProcess::Exec(
        {self_exe, "--concurrency-client", transport, endpoint, std::to_string(budget.count())}));
  }
  std::vector<bool> started(callers, false);
  const Clock::time_point start_deadline = Clock::now() + kStartDeadline;
  for (uint32_t i = 0; i < callers; ++i) {
    const std::optional<std::string> line = children[i].ReadLine(Remaining(start_deadline));
    started[i] = line && *line == "ready";
    if (!started[i]) {
      ++tallies[i].failed;
      tallies[i].first_error = "a caller process did not get ready (its stderr says why)";
    }
  }
  for (uint32_t i = 0; i < callers; ++i) {
    if (started[i]) children[i].Signal(SIGUSR1);
  }
  const Clock::time_point result_deadline = Clock::now() + budget + kCallDeadline + kStartDeadline;
  for (uint32_t i = 0; i < callers; ++i) {
    if (!started[i]) continue;
    Tally& tally = tallies[i];
    bool reported = false;
    while (std::optional<std::string> line = children[i].ReadLine(Remaining(result_deadline))) {
      if (line->rfind("error ", 0) == 0) {
        tally.first_error = line->substr(6);
      } else {
        reported = ParseResult(*line, tally);
        break;
      }
    }
    if (!reported) {
      ++tally.failed;
      if (tally.first_error.empty()) tally.first_error = "a caller process did not report";
    }
  }
  for (ChildProcess& child : children) {
    // One still running after this is killed by its destructor.
    (void)child.Wait(5s);
  }
  return tallies;
}

ConcurrencyResult Combine(const std::string& transport, const std::string& mode, uint32_t callers,
                          const std::vector<Tally>& tallies) {
  ConcurrencyResult result;
  result.transport = transport;
  result.mode = mode;
  result.callers = callers;
  result.payload = kPayload;
  LatencyHistogram latency;
  for (const Tally& tally : tallies) {
    result.iters += tally.calls;
    result.failed += tally.failed;
    if (tally.seconds > 0) result.calls_per_s += static_cast<double>(tally.calls) / tally.seconds;
    latency.Merge(tally.latency);
    if (result.first_error.empty()) result.first_error = tally.first_error;
  }
  result.p50_us = latency.PercentileNs(0.50) / 1e3;
  result.p99_us = latency.PercentileNs(0.99) / 1e3;
  return result;
}

// Connects as a caller of `transport` ("shm" or "unix") must: unix stays on the socket.
ferry::Result<ferry::Channel> ConnectAs(const std::string& transport, const std::string& endpoint,
                                        std::string* error) {
  ferry::ConnectOptions options;
  options.allow_shm = transport == "shm";
  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint, options);
  if (!channel.ok()) {
    *error = "connecting to " + endpoint + ": " + channel.status().ToString();
  } else if (channel->transport() != transport) {
    *error = "expected the " + transport + " transport, got " + std::string(channel->transport());
  }
  return channel;
}

// One case in the threads mode: ferry callers share one channel; raw_uds callers each have a
// connection of their own (a socket cannot be shared by callers waiting for replies).
std::vector<Tally> RunThreadsCase(const std::string& transport, const std::string& endpoint,
                                  uint32_t callers, std::chrono::nanoseconds budget) {
  if (transport == "raw_uds") {
    return RunThreads(callers, budget, [&endpoint](std::string* error) {
      RawCaller caller;
      if (!caller.Connect(endpoint, error)) return std::optional<RawCaller>();
      return std::optional<RawCaller>(std::move(caller));
    });
  }
  std::string error;
  ferry::Result<ferry::Channel> channel = ConnectAs(transport, endpoint, &error);
  if (!error.empty()) {
    std::vector<Tally> tallies(callers);
    for (Tally& tally : tallies) {
      tally.failed = 1;
      tally.first_error = error;
    }
    return tallies;
  }
  return RunThreads(callers, budget, [&channel](std::string*) {
    return std::optional<FerryCaller>(FerryCaller(*channel));
  });
}

// A server of the concurrency cases, and what its callers connect to.
struct CaseServer {
  std::string transport;
  ChildProcess process;
  std::string endpoint;
};

CaseServer StartCaseServer(const std::string& self_exe, const std::string& runtime_dir,
                           const std::string& transport) {
  std::string endpoint;
  if (transport == "shm") {
    ChildProcess process =
        StartBenchServer(self_exe, "shm://bench-concurrency", "any", {}, &endpoint);
    return {transport, std::move(process), endpoint};
  }
  if (transport == "unix") {
    ChildProcess process = StartBenchServer(
        self_exe, "unix://" + runtime_dir + "/bench-concurrency-unix.sock", "any", {}, &endpoint);
    return {transport, std::move(process), endpoint};
  }
  const std::string path = runtime_dir + "/raw-concurrency.sock";
  ChildProcess process = ChildProcess::Exec({self_exe, "--raw-uds-serve", path});
  const std::optional<std::string> line = process.ReadLine(10s);
  if (!line || line->rfind("ready ", 0) != 0) {
    throw BenchError("the raw_uds server did not start");
  }
  return {transport, std::move(process), path};
}

// Stops it; a server that does not stop cleanly is noted on stderr, not fatal (its cases
// are already reported).
void StopCaseServer(CaseServer& server) {
  try {
    if (server.transport != "raw_uds") {
      StopBenchServer(server.process);
      return;
    }
    server.process.Signal(SIGTERM);
    const std::optional<int> status = server.process.Wait(10s);
    unlink(server.endpoint.c_str());
    if (!status) throw BenchError("did not exit within 10 s of SIGTERM");
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      throw BenchError(DescribeWaitStatus(*status));
    }
  } catch (const std::exception& e) {
    std::cerr << "ferry_bench: concurrency: the " << server.transport << " server: " << e.what()
              << '\n';
  }
}

}  // namespace

void RunConcurrencyCases(const std::string& self_exe, const std::string& runtime_dir,
                         const ConcurrencyTransports& transports, double scale,
                         const std::function<void(const ConcurrencyResult&)>& report) {
  const std::chrono::nanoseconds budget = std::max(
      kLeastBudget,
      std::chrono::nanoseconds(std::llround(static_cast<double>(kBudget.count()) * scale)));
  std::vector<std::string> names;
  if (transports.shm) names.push_back("shm");
  if (transports.unix_socket) {
    names.push_back("unix");
    names.push_back("raw_uds");
  }
  if (names.empty()) return;
  for (const std::string mode : {"threads", "processes"}) {
    // Fresh servers per mode; the transports take turns at each count, so that a change in
    // the machine's load hits them alike.
    std::vector<CaseServer> servers;
    for (const std::string& name : names) {
      servers.push_back(StartCaseServer(self_exe, runtime_dir, name));
    }
    for (const uint32_t callers : kCallerCounts) {
      for (const CaseServer& server : servers) {
        const std::vector<Tally> tallies =
            mode == "threads"
                ? RunThreadsCase(server.transport, server.endpoint, callers, budget)
                : RunProcesses(self_exe, server.transport, server.endpoint, callers, budget);
        report(Combine(server.transport, mode, callers, tallies));
      }
    }
    for (CaseServer& server : servers) StopCaseServer(server);
  }
}

int RunConcurrencyClient(const std::string& transport, const std::string& endpoint,
                         std::chrono::nanoseconds budget) {
  // Before any thread exists (the runtime's included): the start signal stays pending until
  // this thread takes it.
  sigset_t start;
  sigemptyset(&start);
  sigaddset(&start, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &start, nullptr);
  const char* const who = "ferry_bench --concurrency-client: ";
  Tally tally;
  auto run = [&tally, &start, budget, who](auto& caller) {
    Warm(caller, tally);
    std::cout << "ready" << std::endl;
    const timespec wait{
        std::chrono::duration_cast<std::chrono::seconds>(kStartDeadline).count() + 10, 0};
    int signal = -1;
    while ((signal = sigtimedwait(&start, nullptr, &wait)) < 0 && errno == EINTR) {
    }
    if (signal != SIGUSR1) {
      std::cerr << who << "no start signal\n";
      return 1;
    }
    CallUntil(caller, Clock::now() + budget, tally);
    if (!tally.first_error.empty()) {
      std::replace(tally.first_error.begin(), tally.first_error.end(), '\n', ' ');
      std::cout << "error " << tally.first_error << '\n';
    }
    std::cout << "result " << tally.calls << ' ' << tally.failed << ' '
              << std::to_string(tally.seconds) << ' ' << tally.latency.Encode() << std::endl;
    return 0;
  };
  std::string error;
  if (transport == "raw_uds") {
    RawCaller caller;
    if (!caller.Connect(endpoint, &error)) {
      std::cerr << who << error << '\n';
      return 1;
    }
    return run(caller);
  }
  if (transport != "shm" && transport != "unix") {
    std::cerr << who << "unknown transport '" << transport << "'\n";
    return 2;
  }
  ferry::Result<ferry::Channel> channel = ConnectAs(transport, endpoint, &error);
  if (!error.empty()) {
    std::cerr << who << error << '\n';
    return 1;
  }
  FerryCaller caller(*channel);
  return run(caller);
}

int ServeRawUds(const std::string& path) {
  const sigset_t stop = ferry::testing::BlockStopSignals();  // before any thread exists
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    std::cerr << "ferry_bench --raw-uds-serve: socket path too long: " << path << '\n';
    return 1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, SOMAXCONN) != 0) {
    std::cerr << "ferry_bench --raw-uds-serve: " << path << ": " << std::strerror(errno) << '\n';
    return 1;
  }
  std::thread([listener] {
    for (;;) {
      const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        std::thread([fd] { ServeRawConnection(fd); }).detach();
      } else if (errno != EINTR && errno != ECONNABORTED) {
        // Out of descriptors or threads: callers waiting in the backlog time out (their
        // SO_RCVTIMEO) and count as failed calls.
        std::this_thread::sleep_for(10ms);
      }
    }
  }).detach();
  std::cout << "ready " << path << std::endl;
  int signal = 0;
  sigwait(&stop, &signal);
  unlink(path.c_str());
  // The connection threads are blocked in read(); nothing of theirs needs to be unwound.
  std::_Exit(0);
}

}  // namespace ferry_bench
