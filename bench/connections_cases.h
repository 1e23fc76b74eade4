// The connections cases: 1, 100 and 1,000 clients connected over shm:// to one fresh bench
// server, idle for a while, then one call from each: what idle connections cost the server
// (threads, memory, CPU) and whether every client is still answered.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "stats.h"

namespace ferry_bench {

// For each client count: starts a bench server (`self_exe --serve shm://bench-connections
// --cpu any --max-connections 4096`) and one client process (`self_exe --connections-client
// ...`) that opens that many channels to it, one after another; waits while they sit idle for
// 5 s (times `scale`, at least 1 s), measuring the server's CPU time over that window; reads
// the server's threads, RSS and descriptors from /proc; makes one 64 B Send call on each
// channel; then closes them and stops the server. Every step has a deadline; connections
// that fail and calls that are not answered are counted, never fatal. `cores`: the CPUs the
// run may use (for the threads bar). Each result is passed to `report` when its case is done.
void RunConnectionsCases(const std::string& self_exe, int cores, double scale,
                         const std::function<void(const ConnectionsResult&)>& report);

// The role `ferry_bench --connections-client <endpoint> <clients> <server pid> <idle_ns>`:
// the client process of a connections case. Raises RLIMIT_NOFILE to its hard limit, then
// does the steps above and prints "note <text>" lines, "result <key>=<value>...", and, once
// its channels are closed, "closed <seconds>". Returns the exit status.
int RunConnectionsClient(const std::string& endpoint, uint32_t clients, pid_t server_pid,
                         std::chrono::nanoseconds idle);

}  // namespace ferry_bench
