// The connections cases: the client process that holds the connections and measures, and the
// side that starts it and the server and turns what it prints into results.
#include "connections_cases.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bench.ferry.h"
#include "bench_support.h"
#include "ferry/ferry.h"
#include "ferry_cases.h"
#include "measure.h"
#include "payload.h"

namespace ferry_bench {
namespace {

namespace fb = ferry::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint32_t kClientCounts[] = {1, 100, 1000};
// The runtime's default (256) would refuse most of the 1,000 clients.
constexpr uint32_t kServerMaxConnections = 4096;
constexpr size_t kPayload = 64;
constexpr std::chrono::nanoseconds kIdle = 5s;  // times the scale
constexpr std::chrono::nanoseconds kLeastIdle = 1s;
// Bounds on each step of the client process.
constexpr std::chrono::milliseconds kConnectTimeout = 3s;    // each Connect
constexpr std::chrono::milliseconds kConnectDeadline = 60s;  // all of them
constexpr std::chrono::milliseconds kCallDeadline = 2s;      // each call
constexpr std::chrono::milliseconds kCallsDeadline = 60s;    // all of them
constexpr std::chrono::milliseconds kCloseDeadline = 60s;    // closing every channel
// What a client's channel is guessed to hold in descriptors, for the RLIMIT_NOFILE warning.
constexpr uint64_t kDescriptorsPerClient = 4;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::chrono::milliseconds Remaining(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Entries of a /proc directory (threads in task/, descriptors in fd/); -1 if it cannot be read.
int64_t CountEntries(const std::string& dir) {
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return -1;
  int64_t count = 0;
  while (const dirent* entry = readdir(listing)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(listing);
  return count;
}

// VmRSS of /proc/<pid>/status, in KiB; -1 if it cannot be read.
int64_t RssKb(const std::string& pid) {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// The server process's CPU time in ns (ServerCpu), or nothing when the call fails.
std::optional<uint64_t> ServerCpuNs(fb::Bench::Client& client, std::string* error) {
  auto request = client.NewServerCpuRequest(kFramingBytes);
  request.Finish(fb::CreateEmpty(request.fbb()));
  ferry::CallOptions options;
  options.deadline = kCallDeadline;
  auto cpu = client.ServerCpu(std::move(request), options);
  if (!cpu.ok()) {
    if (error->empty()) *error = "ServerCpu: " + cpu.status().ToString();
    return std::nullopt;
  }
  return (*cpu)->ns();
}

// One 64 B Send, answered with the right byte.
bool Answered(const ferry::Channel& channel, uint8_t byte, std::string* error) {
  fb::Bench::Client client(channel);
  auto request = client.NewSendRequest(kPayload + kFramingBytes);
  FinishPayload(request, kPayload, byte);
  ferry::CallOptions options;
  options.deadline = kCallDeadline;
  auto ack = client.Send(std::move(request), options);
  if (!ack.ok()) {
    if (error->empty()) *error = "Send: " + ack.status().ToString();
    return false;
  }
  if ((*ack)->last() != byte) {
    if (error->empty()) *error = "Send: the server read a wrong byte";
    return false;
  }
  return true;
}

// "result a=1 b=2 ..." -> {a: 1, b: 2}.
std::map<std::string, std::string> ParseFields(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::istringstream in(line.substr(std::string("result ").size()));
  std::string word;
  while (in >> word) {
    const size_t equals = word.find('=');
    if (equals != std::string::npos) fields[word.substr(0, equals)] = word.substr(equals + 1);
  }
  return fields;
}

// The client process's share of one case: everything but the server's start and stop.
void RunClientProcess(const std::string& self_exe, const std::string& endpoint, uint32_t clients,
                      pid_t server_pid, std::chrono::nanoseconds idle, ConnectionsResult& result,
                      std::vector<std::string>& notes) {
  ChildProcess client =
      ChildProcess::Exec({self_exe, "--connections-client", endpoint, std::to_string(clients),
                          std::to_string(server_pid), std::to_string(idle.count())});
  const Clock::time_point deadline =
      Clock::now() + kConnectDeadline + idle + kCallsDeadline + 4 * kCallDeadline + 10s;
  bool reported = false;
  while (std::optional<std::string> line = client.ReadLine(Remaining(deadline))) {
    if (line->rfind("note ", 0) == 0) {
      notes.push_back(line->substr(5));
      continue;
    }
    if (line->rfind("result ", 0) != 0) continue;
    const std::map<std::string, std::string> fields = ParseFields(*line);
    auto integer = [&fields](const char* key) -> int64_t {
      const auto found = fields.find(key);
      return found == fields.end() ? -1 : std::strtoll(found->second.c_str(), nullptr, 10);
    };
    auto real = [&fields](const char* key) -> double {
      const auto found = fields.find(key);
      return found == fields.end() ? -1 : std::strtod(found->second.c_str(), nullptr);
    };
    result.connected = static_cast<uint32_t>(std::max<int64_t>(0, integer("connected")));
    result.connect_seconds = real("connect_s");
    result.idle_seconds = real("idle_s");
    result.server_idle_cpu_pct = real("server_idle_cpu_pct");
    result.server_threads = integer("server_threads");
    result.server_rss_kb = integer("server_rss_kb");
    result.server_fds = integer("server_fds");
    result.client_threads = integer("client_threads");
    result.answered = static_cast<uint32_t>(std::max<int64_t>(0, integer("answered")));
    reported = true;
    break;
  }
  if (!reported) {
    notes.push_back("the client process did not report (exited, or took too long)");
    return;
  }
  const std::optional<std::string> closed = client.ReadLine(kCloseDeadline);
  if (closed && closed->rfind("closed ", 0) == 0) {
    result.close_seconds = std::strtod(closed->c_str() + 7, nullptr);
  } else {
    notes.push_back("the client process did not close its channels within " +
                    std::to_string(kCloseDeadline.count() / 1000) + " s");
    return;  // killed by its destructor
  }
  const std::optional<int> status = client.Wait(10s);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    notes.push_back("the client process " +
                    (status ? DescribeWaitStatus(*status) : std::string("did not exit")));
  }
}

}  // namespace

void RunConnectionsCases(const std::string& self_exe, int cores, double scale,
                         const std::function<void(const ConnectionsResult&)>& report) {
  const std::chrono::nanoseconds idle =
      std::max(kLeastIdle,
               std::chrono::nanoseconds(std::llround(static_cast<double>(kIdle.count()) * scale)));
  for (const uint32_t clients : kClientCounts) {
    ConnectionsResult result;
    result.transport = "shm";
    result.clients = clients;
    result.cores = cores;
    std::vector<std::string> notes;
    try {
      std::string endpoint;
      ChildProcess server =
          StartBenchServer(self_exe, "shm://bench-connections", "any",
                           {"--max-connections", std::to_string(kServerMaxConnections)}, &endpoint);
      RunClientProcess(self_exe, endpoint, clients, server.pid(), idle, result, notes);
      StopBenchServer(server);
    } catch (const std::exception& e) {
      notes.push_back(e.what());
    }
    for (const std::string& note : notes) {
      result.note += (result.note.empty() ? "" : "; ") + note;
    }
    report(result);
  }
}

int RunConnectionsClient(const std::string& endpoint, uint32_t clients, pid_t server_pid,
                         std::chrono::nanoseconds idle) {
  const uint64_t limit = RaiseOpenFileLimit();
  const uint64_t wanted = uint64_t{clients} * kDescriptorsPerClient + 64;
  if (limit < wanted) {
    std::cout << "note RLIMIT_NOFILE is " << limit << " (the hard limit); " << clients
              << " connections may need about " << wanted << " descriptors" << std::endl;
  }

  std::vector<ferry::Channel> channels;
  channels.reserve(clients);
  std::string connect_error;
  ferry::ConnectOptions options;
  options.connect_timeout = kConnectTimeout;
  const Clock::time_point connect_start = Clock::now();
  const Clock::time_point connect_deadline = connect_start + kConnectDeadline;
  for (uint32_t i = 0; i < clients; ++i) {
    if (Clock::now() >= connect_deadline) {
      std::cout << "note stopped connecting after " << i
                << " attempts: " << kConnectDeadline.count() / 1000 << " s are up" << std::endl;
      break;
    }
    ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint, options);
    if (channel.ok()) {
      channels.push_back(*channel);
    } else if (connect_error.empty()) {
      connect_error = "connection " + std::to_string(i + 1) + ": " + channel.status().ToString();
    }
  }
  const double connect_seconds = Since(connect_start);
  if (!connect_error.empty()) {
    std::cout << "note " << clients - channels.size() << " of " << clients
              << " did not connect; the first: " << connect_error << std::endl;
  }

  // Idle: this thread sleeps; the server's CPU clock is read through the first channel just
  // before and just after.
  std::string call_error;
  std::optional<fb::Bench::Client> probe;
  if (!channels.empty()) probe.emplace(channels.front());
  const std::optional<uint64_t> cpu_before =
      probe ? ServerCpuNs(*probe, &call_error) : std::nullopt;
  const Clock::time_point idle_start = Clock::now();
  std::this_thread::sleep_for(idle);
  const std::optional<uint64_t> cpu_after =
      probe && cpu_before ? ServerCpuNs(*probe, &call_error) : std::nullopt;
  const double idle_seconds = Since(idle_start);
  const std::string pid = std::to_string(server_pid);
  const int64_t server_threads = CountEntries("/proc/" + pid + "/task");
  const int64_t server_rss_kb = RssKb(pid);
  const int64_t server_fds = CountEntries("/proc/" + pid + "/fd");
  const int64_t client_threads = CountEntries("/proc/self/task");

  // One call on each channel, one after another.
  uint32_t answered = 0;
  const Clock::time_point calls_deadline = Clock::now() + kCallsDeadline;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (Clock::now() >= calls_deadline) {
      std::cout << "note stopped calling after " << i << " calls: " << kCallsDeadline.count() / 1000
                << " s are up" << std::endl;
      break;
    }
    if (Answered(channels[i], FillByte(i), &call_error)) ++answered;
  }
  if (!call_error.empty()) std::cout << "note the first failed call: " << call_error << std::endl;

  std::ostringstream line;
  line << "result connected=" << channels.size() << " connect_s=" << connect_seconds
       << " idle_s=" << idle_seconds << " server_idle_cpu_pct=";
  if (cpu_before && cpu_after) {
    line << static_cast<double>(*cpu_after - *cpu_before) / 1e9 / idle_seconds * 100;
  } else {
    line << -1;
  }
  line << " server_threads=" << server_threads << " server_rss_kb=" << server_rss_kb
       << " server_fds=" << server_fds << " client_threads=" << client_threads
       << " answered=" << answered;
  std::cout << line.str() << std::endl;

  const Clock::time_point close_start = Clock::now();
  probe.reset();
  channels.clear();
  std::cout << "closed " << Since(close_start) << std::endl;
  return 0;
}

}  // namespace ferry_bench
