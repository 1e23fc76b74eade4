// What ferry leaves in /dev/shm and the runtime dir: tests assert it is nothing.
#pragma once

#include <string>
#include <vector>

namespace ferry::testing {

// Files in /dev/shm named like segments of process `pid` ("ferry.<uid>.<pid>.*").
std::vector<std::string> ShmSegmentsOf(int pid);
// Every file in `dir`.
std::vector<std::string> FilesIn(const std::string& dir);

// A fresh private runtime dir, exported as FERRY_RUNTIME_DIR for this process and its
// children while the object lives; removed (with anything left inside) on destruction.
class ScopedRuntimeDir {
 public:
  ScopedRuntimeDir();
  ~ScopedRuntimeDir();
  ScopedRuntimeDir(const ScopedRuntimeDir&) = delete;
  ScopedRuntimeDir& operator=(const ScopedRuntimeDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ferry::testing
