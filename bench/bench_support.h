// What ferry_bench shares with the tests (processes, pinning, leftover checks), under the
// bench's own names, plus the bench's error type, its descriptor limit and whole reads.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "support/process.h"
#include "support/shm_files.h"

namespace ferry_bench {

// Any failure that should end the run with a message and a non-zero exit status.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads exactly `size` bytes from a blocking descriptor; false at end of file or on an error.
inline bool ReadFull(int fd, void* out, size_t size) {
  auto* bytes = static_cast<uint8_t*>(out);
  while (size > 0) {
    const ssize_t n = read(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (children inherit it);
// returns the soft limit now in force.
inline uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

using ferry::testing::AllowedCpus;
using ferry::testing::ChildProcess;
using ferry::testing::DescribeWaitStatus;
using ferry::testing::FilesIn;
using ferry::testing::PinToCpu;
using ferry::testing::ScopedRuntimeDir;
using ferry::testing::FerryFilesInDevShm;
using ferry::testing::TryPinToCpu;

}  // namespace ferry_bench
