// What ferry leaves in /dev/shm and the runtime dir: tests assert it is nothing.
#pragma once

#include <string>
#include <vector>

namespace ferry::testing {

// Files in /dev/shm whose name starts with "ferry". ferry's segments are anonymous (sealed
// memfds), so this must stay empty: a regression to named segments would show up here.
// mq:// queues are named "ferry-mq-<creator pid>-..." and live while a connection is being
// made: those count only when their creator is this process or one of `creators` (tests run
// in parallel, and other tests' connections are not this test's leaks).
std::vector<std::string> FerryFilesInDevShm(const std::vector<int>& creators = {});
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
