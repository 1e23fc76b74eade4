// The server side of the shm cases: `ferry_bench --serve <endpoint> --cpu <n>`, a separate
// process started by the client side.
#pragma once

#include <string>

namespace ferry_bench {

// Pins this process to `cpu`, serves ferry.bench.Bench on `endpoint`, prints "ready" on
// stdout once listening, and returns 0 after a clean shutdown on SIGTERM or SIGINT.
int Serve(const std::string& endpoint, int cpu);

}  // namespace ferry_bench
