// Child processes for end-to-end tests: spawn with a pipe on stdout, read lines with a
// deadline, signal, and always reap.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` (a path) with `argv`; its stdout is readable through ReadLine, its
  // stderr is inherited.
  explicit ChildProcess(const std::vector<std::string>& argv);
  // Kills (SIGKILL) and reaps a child still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The next line of the child's stdout without its newline; nullopt on EOF or timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal);
  // Waits for the child to exit; returns its wait status, or nullopt on timeout (the child is
  // then still running and the destructor will kill it).
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
  std::string buffered_;
};

// The path of a helper binary: in $FERRY_TEST_BIN_DIR if set, else beside this executable.
std::string HelperPath(const std::string& name);

}  // namespace ferry::testing
