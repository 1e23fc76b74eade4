// The ferry cases: unary ferry.bench.Bench.Send calls from this process to a server process,
// over one transport each.
#pragma once

#include <functional>
#include <string>
#include <vector>

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

// Starts `self_exe --serve <listen> --cpu <server_cpu>`, connects to the endpoint it reports
// from this process (already pinned by the caller), measures every payload size, then stops
// the server and checks it left nothing in /dev/shm. Each result is passed to `report` as
// soon as its case is done.
void RunFerryCases(const std::string& self_exe, const FerryTransport& transport,
                   const std::string& runtime_dir, const std::string& placement, int server_cpu,
                   double scale, const std::function<void(const CaseResult&)>& report);

}  // namespace ferry_bench
