// Processes and CPUs for tests and ferry_bench: pinning, and child processes that are always
// reaped. Failures throw std::runtime_error.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

// The CPUs this process may run on, ascending.
std::vector<int> AllowedCpus();

// Pins the calling thread, and every thread it creates afterwards, to `cpu`. TryPinToCpu is
// safe in a forked child (a system call, nothing else).
void PinToCpu(int cpu);
bool TryPinToCpu(int cpu) noexcept;

// What /proc/<pid>/status says of a process's size (zeros when it cannot be read).
struct ProcessUsage {
  long threads = 0;
  long rss_kib = 0;
};
ProcessUsage UsageOf(pid_t pid);

// A child process that is killed (SIGKILL) and reaped if it is still around when the object
// goes away, so no error path leaves one behind. Children also die with the parent
// (PR_SET_PDEATHSIG), should the parent itself be killed.
class ChildProcess {
 public:
  // fork + exec of `argv` (argv[0] is the path); the child's stdout is a pipe read with
  // ReadLine, its stderr is ours.
  static ChildProcess Exec(const std::vector<std::string>& argv);
  // fork; the child runs `body` and _exit()s with its result. `body` must stick to what is
  // safe after fork in a threaded process (atomics, system calls; no locks, no allocation).
  static ChildProcess Fork(const std::function<int()>& body);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // One line of the child's stdout without its '\n'; nullopt on EOF or after `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal) const;
  // The child's wait status once it has exited, or nullopt after `timeout` (still running).
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}

  pid_t pid_ = -1;      // -1 once reaped
  int stdout_fd_ = -1;  // read end of the child's stdout, -1 when there is none
  std::string buffered_;
};

// "exited with status 3", "killed by signal 9": for error messages.
std::string DescribeWaitStatus(int status);

// The path of a helper binary: in $FERRY_TEST_BIN_DIR if set, else beside this executable.
std::string HelperPath(const std::string& name);



}  // namespace ferry::testing
