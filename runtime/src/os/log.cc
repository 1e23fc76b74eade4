// The runtime's log lines: the user's sink or stderr, and a per-source rate limit.
#include "os/log.h"

#include <unistd.h>

#include <memory>
#include <string>

namespace ferry {
namespace {

// Replaced whole (never changed in place), so a line being written keeps the sink it took.
std::mutex sink_mutex;
std::shared_ptr<const LogSink> sink;

}  // namespace

void SetLogSink(LogSink new_sink) {
  std::shared_ptr<const LogSink> replacement =
      new_sink ? std::make_shared<const LogSink>(std::move(new_sink)) : nullptr;
  std::lock_guard lock(sink_mutex);
  sink.swap(replacement);
}

std::string FormatLogRecord(const LogRecord& record) {
  std::string text = "ferry[" + std::to_string(getpid()) + "]: ";
  text.append(record.message);
  std::string fields;
  const auto field = [&](std::string_view name, std::string_view value) {
    fields += (fields.empty() ? "" : " ") + std::string(name) + "=" + std::string(value);
  };
  if (!record.endpoint.empty()) field("endpoint", record.endpoint);
  if (record.peer != nullptr) {
    if (record.peer->pid >= 0) field("peer_pid", std::to_string(record.peer->pid));
    if (record.peer->uid >= 0) field("peer_uid", std::to_string(record.peer->uid));
    if (!record.peer->address.empty()) field("peer", record.peer->address);
  }
  if (!record.method.empty()) field("method", record.method);
  if (record.status != StatusCode::kOk) field("status", StatusCodeName(record.status));
  if (!fields.empty()) text += " [" + fields + "]";
  return text;
}

namespace internal {

void Log(const LogRecord& record) {
  std::shared_ptr<const LogSink> current;
  {
    std::lock_guard lock(sink_mutex);
    current = sink;
  }
  if (current != nullptr) {
    (*current)(record);
    return;
  }
  std::string text = FormatLogRecord(record);
  text.push_back('\n');
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
}

void LogLine(std::string_view line) { Log(LogRecord{.message = line}); }

void LogLimiter::Log(const LogRecord& record) {
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
    internal::Log(record);
  } else {
    const std::string message = std::string(record.message) + " (" + std::to_string(dropped) +
                                " similar lines dropped before this one)";
    LogRecord with_count = record;
    with_count.message = message;
    internal::Log(with_count);
  }
}

uint64_t LogLimiter::suppressed() const {
  std::lock_guard lock(mutex_);
  return total_suppressed_;
}

}  // namespace internal
}  // namespace ferry
