// One line per event worth an operator's attention: to the user's LogSink, or to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "ferry/log.h"

namespace ferry::internal {

// To the sink set by SetLogSink, else FormatLogRecord's line to stderr in one write(2), so
// lines from threads never interleave.
void Log(const LogRecord& record);
// A warning with no fields.
void LogLine(std::string_view line);

// Bounds what one source (a connection, a listener) can write: at most `per_second` lines in
// any one-second window; the first line of a later window says how many were dropped. A peer
// that misbehaves in a loop thus costs a few lines a second, not one per message.
// Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(uint32_t per_second = 5) : per_second_(per_second) {}
  void Log(std::string_view line) { Log(LogRecord{.message = line}); }
  void Log(const LogRecord& record);
  uint64_t suppressed() const;

 private:
  const uint32_t per_second_;
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point window_start_{};
  uint32_t in_window_ = 0;
  uint64_t suppressed_ = 0;        // dropped since the last line written
  uint64_t total_suppressed_ = 0;  // dropped ever
};

}  // namespace ferry::internal
