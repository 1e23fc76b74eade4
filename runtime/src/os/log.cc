// stderr logging for the runtime's rare events (bad peers, refused connections).
#include "os/log.h"

#include <unistd.h>

#include <string>

namespace ferry::internal {

void LogLine(std::string_view line) {
  std::string text = "ferry[" + std::to_string(getpid()) + "]: ";
  text.append(line);
  text.push_back('\n');
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
}

void LogLimiter::Log(std::string_view line) {
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= per_second_) {
      ++suppressed_;
      ++total_suppressed_;
      return;
    }
    ++in_window_;
    dropped = suppressed_;
    suppressed_ = 0;
  }
  if (dropped == 0) {
    LogLine(line);
  } else {
    LogLine(std::string(line) + " (" + std::to_string(dropped) +
            " similar lines dropped before this one)");
  }
}

uint64_t LogLimiter::suppressed() const {
  std::lock_guard lock(mutex_);
  return total_suppressed_;
}

}  // namespace ferry::internal
