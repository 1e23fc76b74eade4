// The ferry cases: ferry.bench.Bench calls from this process to a server process, over one
// transport each: unary Send round trips here, the throughput cases in stream_cases.h, the
// paced ones in paced_cases.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bench_support.h"
#include "stats.h"

namespace ferry_bench {

struct FerryTransport {
  std::string label;      // the "transport" of the JSON lines: "shm", "tcp_upgraded", ...
  std::string listen;     // the server's endpoint ("{dir}" stands for the runtime dir)
  bool allow_shm;         // the client's ConnectOptions::allow_shm
  std::string expected;   // what channel.transport() must say after connecting
};

// shm, unix, tcp, tcp_upgraded (a tcp://127.0.0.1 connection moved to shared memory), mq.
const std::vector<FerryTransport>& FerryTransports();

// Which groups of ferry cases run.
struct FerryCaseGroups {
  bool unary = true;    // Send round trips at every payload size (CaseResult)
  bool streams = true;  // server_stream, client_stream, bidi_stream (RateResult)
  bool async = true;    // sync_unary and async_unary calls per second (RateResult)
  bool paced = true;    // 64 B Send at 100 Hz and 1 kHz, CPU per call (PacedResult)

  bool any() const { return unary || streams || async || paced; }
};

// Starts the bench server, `self_exe --serve <listen> --cpu <cpu> <extra...>` (cpu: a CPU
// number, or "any" to leave it unpinned), and waits up to 10 s for the endpoint it reports.
ChildProcess StartBenchServer(const std::string& self_exe, const std::string& listen,
                              const std::string& cpu, const std::vector<std::string>& extra,
                              std::string* endpoint);

// SIGTERM, then up to 10 s for a clean exit, and nothing of its left in /dev/shm; else throws
// BenchError.
void StopBenchServer(ChildProcess& server);

// Starts `self_exe --serve <listen> --cpu <server_cpu>`, connects to the endpoint it reports
// from this process (already pinned by the caller), measures the unary round trips at every
// payload size, then the streams, then the calls per second, then the paced calls (as
// `groups` says), on one connection; then stops the server and checks it left nothing in
// /dev/shm. Each result is passed to `report`, `report_rate` or `report_paced` as soon as its
// case is done.
void RunFerryCases(const std::string& self_exe, const FerryTransport& transport,
                   const std::string& runtime_dir, const std::string& placement, int server_cpu,
                   double scale, const FerryCaseGroups& groups,
                   const std::function<void(const CaseResult&)>& report,
                   const std::function<void(const RateResult&)>& report_rate,
                   const std::function<void(const PacedResult&)>& report_paced);

}  // namespace ferry_bench
