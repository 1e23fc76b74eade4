// The concurrency cases: 1, 4, 16 or 64 callers making 64 B unary calls back to back at the
// same time, as threads sharing one channel or as processes with a channel each, over shm://,
// unix:// and a raw Unix-socket ping-pong (raw_uds); nothing pinned, since the callers
// outnumber the CPUs on purpose. Also the two roles of this binary those cases start.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "stats.h"

namespace ferry_bench {

// Which transports the concurrency cases measure.
struct ConcurrencyTransports {
  bool shm = true;
  bool unix_socket = true;  // unix:// (allow_shm = false) and its floor, raw_uds
};

// For each mode (threads, then processes): starts a bench server on shm:// and one on
// unix:// (`self_exe --serve ... --cpu any`) and a raw_uds server (`self_exe --raw-uds-serve
// <runtime_dir>/...`), then at each caller count runs shm, unix and raw_uds one after the
// other for about 1 s each (times `scale`, at least 0.1 s), then stops the servers. Every
// process inherits this process's CPU affinity: the caller unpins it first. A failed call
// is counted, never fatal. Each result is passed to `report` as soon as its case is done.
void RunConcurrencyCases(const std::string& self_exe, const std::string& runtime_dir,
                         const ConcurrencyTransports& transports, double scale,
                         const std::function<void(const ConcurrencyResult&)>& report);

// The role `ferry_bench --concurrency-client <transport> <endpoint> <budget_ns>`: one caller
// of the processes mode. Connects (shm, unix, or raw_uds to a --raw-uds-serve socket path),
// makes the warm-up calls, prints "ready", waits for SIGUSR1 (the start, sent to every caller
// at once), calls for `budget`, and prints "result <calls> <failed> <seconds> <latency
// histogram>". Returns the exit status: 0 once the result is printed.
int RunConcurrencyClient(const std::string& transport, const std::string& endpoint,
                         std::chrono::nanoseconds budget);

// The role `ferry_bench --raw-uds-serve <path>`: the raw_uds server. Listens on the Unix
// socket `path`, serves each connection on a thread of its own (read the 64 B request, write
// 8 bytes back whose first is the request's last byte), prints "ready <path>", and on SIGTERM
// or SIGINT removes the socket and exits with 0.
int ServeRawUds(const std::string& path);

}  // namespace ferry_bench
