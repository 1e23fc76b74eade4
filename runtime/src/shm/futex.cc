// futex(2) wrappers (shared, not private: the word lives in a mapping of two processes) and
// the CPU-affinity probe behind AdaptiveSpinner.
#include "shm/futex.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

namespace ferry::shm {

void FutexWait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout) {
  using std::chrono::nanoseconds;
  if (timeout <= nanoseconds::zero()) return;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>((timeout - secs).count());
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>& word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

int CurrentCpu() { return sched_getcpu(); }

bool SpinningCanHelp(int peer_cpu) {
  // Affinity rarely changes; re-read it now and then rather than on every wait.
  thread_local uint32_t checks_left = 0;
  thread_local bool several_cpus_online = false;
  thread_local int pinned_cpu = -1;  // the only CPU this thread may use, or -1 for several
  if (checks_left-- == 0) {
    checks_left = 1024;
    several_cpus_online = sysconf(_SC_NPROCESSORS_ONLN) > 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    pinned_cpu = -1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1) {
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) pinned_cpu = cpu;
      }
    }
  }
  if (!several_cpus_online) return false;
  return pinned_cpu < 0 || peer_cpu < 0 || peer_cpu != pinned_cpu;
}

}  // namespace ferry::shm
