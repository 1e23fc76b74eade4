// What ferry_bench shares with the tests (processes, pinning, leftover checks), under the
// bench's own names, plus the bench's error type.
#pragma once

#include <stdexcept>

#include "support/process.h"
#include "support/shm_files.h"

namespace ferry_bench {

// Any failure that should end the run with a message and a non-zero exit status.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using ferry::testing::AllowedCpus;
using ferry::testing::ChildProcess;
using ferry::testing::DescribeWaitStatus;
using ferry::testing::FilesIn;
using ferry::testing::PinToCpu;
using ferry::testing::ScopedRuntimeDir;
using ferry::testing::FerryFilesInDevShm;
using ferry::testing::TryPinToCpu;

}  // namespace ferry_bench
