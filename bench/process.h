// Processes and CPUs for ferry_bench: pinning, child processes that are always reaped, and a
// private runtime dir. Everything here throws BenchError on failure.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry_bench {

// Any failure that should end the run with a message and a non-zero exit status.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The CPUs this process may run on, ascending.
std::vector<int> AllowedCpus();

// Pins the calling thread, and every thread it creates afterwards, to `cpu`. TryPinToCpu is
// safe in a forked child (a system call, nothing else).
void PinToCpu(int cpu);
bool TryPinToCpu(int cpu) noexcept;

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

// A fresh directory (mode 0700) exported as FERRY_RUNTIME_DIR for this process and the
// children it starts; removed with its contents on destruction.
class ScopedRuntimeDir {
 public:
  ScopedRuntimeDir();
  ~ScopedRuntimeDir();
  ScopedRuntimeDir(const ScopedRuntimeDir&) = delete;
  ScopedRuntimeDir& operator=(const ScopedRuntimeDir&) = delete;

  const std::string& path() const { return path_; }
  // Names of the files currently inside.
  std::vector<std::string> Entries() const;

 private:
  std::string path_;
};

// Shared-memory segments ferry named after process `pid` still present in /dev/shm
// ("ferry.<uid>.<pid>.*").
std::vector<std::string> ShmSegmentsOf(pid_t pid);

}  // namespace ferry_bench
