// The shm cases: unary ferry.bench.Bench.Send calls from this process to a server process.
#pragma once

#include <functional>
#include <string>

#include "stats.h"

namespace ferry_bench {

// Starts `self_exe --serve <endpoint> --cpu <server_cpu>`, connects to it from this process
// (already pinned by the caller), measures every payload size, then stops the server and
// checks it left nothing in /dev/shm. Each result is passed to `report` as soon as its case
// is done.
void RunShmCases(const std::string& self_exe, const std::string& placement, int server_cpu,
                 double scale, const std::function<void(const CaseResult&)>& report);

}  // namespace ferry_bench
