// The server side of the shm cases: `ferry_bench --serve <endpoint> --cpu <n>`, a separate
// process started by the client side.
#pragma once

#include <cstdint>
#include <string>

namespace ferry_bench {

// Pins this process to `cpu` (not when it is negative: the process keeps the CPUs it was
// started with), serves ferry.bench.Bench on `endpoint`, prints "ready" on stdout once
// listening, and returns 0 after a clean shutdown on SIGTERM or SIGINT. `max_connections`
// above 0 replaces ServerOptions::max_connections, and then RLIMIT_NOFILE is raised to its
// hard limit first (a connection holds descriptors).
int Serve(const std::string& endpoint, int cpu, uint32_t max_connections = 0);

}  // namespace ferry_bench
