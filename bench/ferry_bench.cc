// ferry_bench: unary round trips over ferry's transports at 64 B, 4 KiB, 1 MiB and 16 MiB,
// with the client and the server on different CPUs and on one CPU, next to baselines measured
// in the same run (raw_spin and raw_futex over a shared mapping; raw_uds and raw_tcp socket
// ping-pongs); then streams of each kind at 64 B and 1 MiB per message, 64 B unary calls
// per second made back to back and kept in flight, and 64 B calls paced at 100 Hz and 1 kHz
// with each process's CPU time per call (shm next to raw_futex paced the same way). Then,
// with nothing pinned: 64 B calls from 1 to 64 callers at once, threads sharing a channel or
// processes with one each (shm, unix, raw_uds), and 1 to 1,000 idle shm clients on one
// server, with what they cost it and whether each is still answered. One JSON line per case
// on stdout, tables with the bars on stderr.
//
//   ferry_bench [--transport shm|unix|tcp|mq|all]...
//               [--cases unary|streams|async|paced|concurrency|connections|all]...
//               [--quick] [--iters-scale F] [--placement P]
//
// The same binary is every other process of the cases, started by itself: the server of the
// ferry cases (--serve), and the hidden roles --concurrency-client, --raw-uds-serve and
// --connections-client.
#include <sched.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "bench_server.h"
#include "bench_support.h"
#include "concurrency_cases.h"
#include "connections_cases.h"
#include "ferry_cases.h"
#include "paced_cases.h"
#include "raw_baselines.h"
#include "raw_sockets.h"
#include "stats.h"

namespace ferry_bench {
namespace {

constexpr const char* kUsage =
    "usage: ferry_bench [--transport shm|unix|tcp|mq|all]...\n"
    "                   [--cases unary|streams|async|paced|concurrency|connections|all]...\n"
    "                   [--quick] [--iters-scale F] [--placement cross_cpu|same_cpu|all]\n"
    "\n"
    "Measures unary round trips over ferry's transports (payloads 64 B, 4 KiB, 1 MiB, 16 MiB\n"
    "in the request, a small reply) against baselines in the same run: raw_spin and raw_futex\n"
    "(two processes handing the payload over through one shared mapping) for shm, raw_uds and\n"
    "raw_tcp (a blocking socket ping-pong of the same bytes) for unix and tcp. tcp also\n"
    "measures tcp_upgraded: a tcp://127.0.0.1 connection after its move to shared memory;\n"
    "mq (two Boost.Interprocess message queues) has no raw floor of its own.\n"
    "Then, over each ferry transport: server_stream, client_stream and bidi_stream at 64 B and\n"
    "1 MiB per message (messages per second), and 64 B unary calls per second from one thread,\n"
    "back to back (sync_unary) and with 1, 8 or 64 in flight (async_unary). Then 64 B calls\n"
    "paced at 100 Hz and 1 kHz for about 2 s each (paced), over shm and over raw_futex,\n"
    "with the CPU time per call of the server and of the client, each from its own process\n"
    "CPU clock.\n"
    "Then, with no process pinned (placement any): concurrency, 64 B calls back to back from\n"
    "1, 4, 16 and 64 callers at once for about 1 s each, as threads sharing one channel and\n"
    "as processes with a channel each, over shm, unix and raw_uds (calls per second over all\n"
    "callers, p50 and p99, failed calls); and connections, 1, 100 and 1,000 shm clients on\n"
    "one server, idle for 5 s, then one call from each (the server's threads, RSS and idle\n"
    "CPU, the calls answered).\n"
    "One JSON line per case on stdout, summary tables on stderr.\n"
    "\n"
    "  --transport T      a transport to measure (repeatable, or comma-separated); default all\n"
    "  --cases C          unary (round trips and their raw baselines), streams, async,\n"
    "                     paced, concurrency or connections (repeatable, or comma-separated);\n"
    "                     default all\n"
    "  --quick            10x fewer calls and shorter time budgets (a smoke test)\n"
    "  --iters-scale F    multiply every call count and time budget by F (> 0)\n"
    "  --placement P      cross_cpu (client and server on different CPUs), same_cpu (both\n"
    "                     on one CPU) or all (default); concurrency and connections pin\n"
    "                     nothing and run once whatever it says\n";

struct Options {
  std::vector<std::string> transports;  // empty: all
  bool cases_given = false;             // false: every group of cases
  FerryCaseGroups groups;
  bool concurrency = true;
  bool connections = true;
  double scale = 1.0;
  bool cross_cpu = true;
  bool same_cpu = true;
};

struct ServeOptions {
  std::string endpoint;
  bool cpu_given = false;
  int cpu = -1;  // -1: "any", not pinned
  uint32_t max_connections = 0;  // 0: the runtime's default
};

// The hidden roles (see concurrency_cases.h and connections_cases.h).
enum class Role { kBench, kServe, kConcurrencyClient, kRawUdsServe, kConnectionsClient };

// Exit status 2 with a message: a usage error.
[[noreturn]] void UsageError(const std::string& message) {
  std::cerr << "ferry_bench: " << message << "\n\n" << kUsage;
  std::exit(2);
}

double ParseScale(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || value <= 0) {
    UsageError("--iters-scale wants a positive number, not '" + text + "'");
  }
  return value;
}

int ParseCpu(const std::string& text) {
  if (text == "any") return -1;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value < 0 || value >= CPU_SETSIZE) {
    UsageError("--cpu wants a CPU number or any, not '" + text + "'");
  }
  return static_cast<int>(value);
}

// A positive whole number of at most `most`, for the hidden roles' arguments.
uint64_t ParseCount(const std::string& what, const std::string& text, uint64_t most) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || errno != 0 || value == 0 || value > most ||
      text[0] == '-') {
    UsageError(what + " wants a positive number, not '" + text + "'");
  }
  return value;
}

// Lets this thread, and every thread and process it starts from now on, run on any of `cpus`.
void AllowCpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw BenchError("cannot unpin: sched_setaffinity: " + std::string(std::strerror(errno)));
  }
}

bool Wanted(const Options& options, const std::string& transport) {
  return options.transports.empty() ||
         std::find(options.transports.begin(), options.transports.end(), transport) !=
             options.transports.end();
}

// "shm,tcp" -> shm, tcp; "all" -> nothing (meaning all).
void AddTransports(const std::string& text, Options& options) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, comma - start);
    if (name == "all") {
      options.transports.clear();
      return;
    }
    if (name != "shm" && name != "unix" && name != "tcp" && name != "mq") {
      UsageError("unknown transport '" + name + "' (shm, unix, tcp, mq or all)");
    }
    options.transports.push_back(name);
    start = comma + 1;
  }
}

// "unary,streams" -> those groups only (added to earlier --cases); "all" -> every group.
void AddCaseGroups(const std::string& text, Options& options) {
  if (!options.cases_given) {
    options.groups = {false, false, false, false};
    options.concurrency = false;
    options.connections = false;
  }
  options.cases_given = true;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, comma - start);
    if (name == "all") {
      options.groups = {};
      options.concurrency = true;
      options.connections = true;
    } else if (name == "unary") {
      options.groups.unary = true;
    } else if (name == "streams") {
      options.groups.streams = true;
    } else if (name == "async") {
      options.groups.async = true;
    } else if (name == "paced") {
      options.groups.paced = true;
    } else if (name == "concurrency") {
      options.concurrency = true;
    } else if (name == "connections") {
      options.connections = true;
    } else {
      UsageError("unknown cases '" + name +
                 "' (unary, streams, async, paced, concurrency, connections or all)");
    }
    start = comma + 1;
  }
}

int RunBenchmarks(const Options& options) {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<int> cpus = AllowedCpus();
  if (cpus.empty()) throw BenchError("no CPU to run on");
  struct Placement {
    const char* name;
    int client_cpu;
    int server_cpu;
  };
  // The pinned groups' placements (concurrency and connections pin nothing).
  std::vector<Placement> placements;
  if (options.groups.any()) {
    if (options.cross_cpu) {
      if (cpus.size() >= 2) {
        placements.push_back({"cross_cpu", cpus[0], cpus[1]});
      } else {
        std::cerr << "ferry_bench: note: only CPU " << cpus[0]
                  << " is available; skipping cross_cpu\n";
      }
    }
    if (options.same_cpu) placements.push_back({"same_cpu", cpus[0], cpus[0]});
    if (placements.empty()) throw BenchError("no placement can run on this machine");
  }

  ScopedRuntimeDir runtime_dir;
  std::vector<CaseResult> results;
  std::vector<RateResult> rate_results;
  auto report = [&results](const CaseResult& result) {
    std::cout << ToJson(result) << std::endl;  // one line per case, flushed
    results.push_back(result);
  };
  auto report_rate = [&rate_results](const RateResult& result) {
    std::cout << ToJson(result) << std::endl;
    rate_results.push_back(result);
  };
  std::vector<PacedResult> paced_results;
  auto report_paced = [&paced_results](const PacedResult& result) {
    std::cout << ToJson(result) << std::endl;
    paced_results.push_back(result);
  };
  std::vector<ConcurrencyResult> concurrency_results;
  auto report_concurrency = [&concurrency_results](const ConcurrencyResult& result) {
    std::cout << ToJson(result) << std::endl;
    concurrency_results.push_back(result);
  };
  std::vector<ConnectionsResult> connections_results;
  auto report_connections = [&connections_results](const ConnectionsResult& result) {
    std::cout << ToJson(result) << std::endl;
    connections_results.push_back(result);
  };
  const bool raw = options.groups.unary;  // the raw baselines are floors of the round trips
  for (const Placement& placement : placements) {
    std::cerr << "ferry_bench: " << placement.name << ": client on CPU " << placement.client_cpu
              << ", server on CPU " << placement.server_cpu << '\n';
    PinToCpu(placement.client_cpu);
    const bool same = placement.client_cpu == placement.server_cpu;
    if (raw && Wanted(options, "shm")) {
      RunRawCases(RawKind::kSpin, placement.name, same, placement.server_cpu, options.scale,
                  report);
      RunRawCases(RawKind::kFutex, placement.name, same, placement.server_cpu, options.scale,
                  report);
    }
    if (options.groups.paced && Wanted(options, "shm")) {
      RunRawPacedCases(placement.name, placement.server_cpu, options.scale, report_paced);
    }
    if (raw && Wanted(options, "unix")) {
      RunRawSocketCases(RawSocketKind::kUds, placement.name, placement.server_cpu, options.scale,
                        report);
    }
    if (raw && Wanted(options, "tcp")) {
      RunRawSocketCases(RawSocketKind::kTcp, placement.name, placement.server_cpu, options.scale,
                        report);
    }
    for (const FerryTransport& transport : FerryTransports()) {
      // tcp_upgraded belongs to tcp: it is what a tcp:// user on the same host gets.
      const std::string family = transport.label == "tcp_upgraded" ? "tcp" : transport.label;
      if (!Wanted(options, family)) continue;
      FerryCaseGroups groups = options.groups;
      groups.paced = false;
      if (groups.any()) {
        RunFerryCases("/proc/self/exe", transport, runtime_dir.path(), placement.name,
                      placement.server_cpu, options.scale, groups, report, report_rate,
                      report_paced);
      }
      // paced: shm only (next to raw_futex), with a server of its own. A server that has
      // run the streams or async calls spends several times the CPU on each paced call, and
      // the case would then depend on which groups ran before it.
      if (options.groups.paced && transport.label == "shm") {
        const FerryCaseGroups paced_only{false, false, false, true};
        RunFerryCases("/proc/self/exe", transport, runtime_dir.path(), placement.name,
                      placement.server_cpu, options.scale, paced_only, report, report_rate,
                      report_paced);
      }
    }
  }
  // Callers outnumber the CPUs here on purpose: every process and thread may run anywhere
  // (the client and server processes started from now on inherit this thread's CPUs).
  const bool concurrency =
      options.concurrency && (Wanted(options, "shm") || Wanted(options, "unix"));
  const bool connections = options.connections && Wanted(options, "shm");
  if (concurrency || connections) {
    AllowCpus(cpus);
    std::cerr << "ferry_bench: placement any: nothing pinned (CPUs";
    for (const int cpu : cpus) std::cerr << ' ' << cpu;
    std::cerr << ")\n";
  }
  if (concurrency) {
    const auto group_started = std::chrono::steady_clock::now();
    RunConcurrencyCases("/proc/self/exe", runtime_dir.path(),
                        {Wanted(options, "shm"), Wanted(options, "unix")}, options.scale,
                        report_concurrency);
    std::cerr << "ferry_bench: concurrency took "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - group_started)
                     .count()
              << " s\n";
  }
  if (connections) {
    const auto group_started = std::chrono::steady_clock::now();
    RunConnectionsCases("/proc/self/exe", static_cast<int>(cpus.size()), options.scale,
                        report_connections);
    std::cerr << "ferry_bench: connections took "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - group_started)
                     .count()
              << " s\n";
  }
  if (const std::vector<std::string> left = FilesIn(runtime_dir.path()); !left.empty()) {
    throw BenchError("ferry left " + runtime_dir.path() + "/" + left.front() + " behind");
  }

  if (!results.empty()) PrintTable(std::cerr, results);
  PrintRateTable(std::cerr, rate_results);
  PrintPacedTable(std::cerr, paced_results);
  PrintConcurrencyTable(std::cerr, concurrency_results);
  PrintConnectionsTable(std::cerr, connections_results);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cerr << "ferry_bench: "
            << results.size() + rate_results.size() + paced_results.size() +
                   concurrency_results.size() + connections_results.size()
            << " cases in " << took.count() << " s\n";
  return 0;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  Options options;
  ServeOptions serve;
  Role role = Role::kBench;
  std::vector<std::string> role_args;  // the hidden roles' values, in order
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) UsageError(arg + " wants a value");
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--transport") {
      AddTransports(value(), options);
    } else if (arg == "--cases") {
      AddCaseGroups(value(), options);
    } else if (arg == "--quick") {
      options.scale *= 0.1;
    } else if (arg == "--iters-scale") {
      options.scale *= ParseScale(value());
    } else if (arg == "--placement") {
      const std::string& placement = value();
      if (placement == "cross_cpu") {
        options.same_cpu = false;
      } else if (placement == "same_cpu") {
        options.cross_cpu = false;
      } else if (placement != "all") {
        UsageError("unknown placement '" + placement + "'");
      }
    } else if (arg == "--serve") {
      role = Role::kServe;
      serve.endpoint = value();
    } else if (arg == "--cpu") {
      serve.cpu_given = true;
      serve.cpu = ParseCpu(value());
    } else if (arg == "--max-connections") {
      serve.max_connections =
          static_cast<uint32_t>(ParseCount(arg, value(), std::numeric_limits<uint32_t>::max()));
    } else if (arg == "--concurrency-client") {
      role = Role::kConcurrencyClient;
      for (int n = 0; n < 3; ++n) role_args.push_back(value());  // transport endpoint budget_ns
    } else if (arg == "--raw-uds-serve") {
      role = Role::kRawUdsServe;
      role_args.push_back(value());  // socket path
    } else if (arg == "--connections-client") {
      role = Role::kConnectionsClient;
      for (int n = 0; n < 4; ++n) role_args.push_back(value());  // endpoint clients pid idle_ns
    } else {
      UsageError("unknown argument '" + arg + "'");
    }
  }
  switch (role) {
    case Role::kBench:
      return RunBenchmarks(options);
    case Role::kServe:
      if (!serve.cpu_given) UsageError("--serve wants --cpu");
      return Serve(serve.endpoint, serve.cpu, serve.max_connections);
    case Role::kConcurrencyClient:
      return RunConcurrencyClient(
          role_args[0], role_args[1],
          std::chrono::nanoseconds(ParseCount("--concurrency-client", role_args[2],
                                              std::numeric_limits<int64_t>::max())));
    case Role::kRawUdsServe:
      return ServeRawUds(role_args[0]);
    case Role::kConnectionsClient:
      return RunConnectionsClient(
          role_args[0],
          static_cast<uint32_t>(ParseCount("--connections-client", role_args[1], 1'000'000)),
          static_cast<pid_t>(ParseCount("--connections-client", role_args[2],
                                        std::numeric_limits<pid_t>::max())),
          std::chrono::nanoseconds(ParseCount("--connections-client", role_args[3],
                                              std::numeric_limits<int64_t>::max())));
  }
  return 2;
}

}  // namespace
}  // namespace ferry_bench

int main(int argc, char** argv) {
  try {
    return ferry_bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ferry_bench: error: " << e.what() << '\n';
    return 1;
  }
}
