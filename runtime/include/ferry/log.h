// Where the runtime's log lines go: rare events an operator may want to know about (a peer
// that breaks the protocol or fails a schema check, a refused client, a oneway call that
// failed, a thread that could not start). stderr by default.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "ferry/call_context.h"
#include "ferry/status.h"

namespace ferry {

enum class LogLevel { kInfo, kWarning, kError };

// One line, with what it concerns where the runtime knows it. Valid only during the sink's
// call: copy what you keep.
struct LogRecord {
  LogLevel level = LogLevel::kWarning;
  std::string_view message = {};
  std::string_view endpoint = {};       // the server endpoint it concerns, empty if none
  const Peer* peer = nullptr;           // the client it concerns, null if none
  std::string_view method = {};         // "package.Service.Method", empty if none
  StatusCode status = StatusCode::kOk;  // the status it reports, kOk if none
};

// Called for every line, from whichever runtime thread writes it (possibly several at once),
// so it must be thread-safe and should not block for long. A connection writes at most a few
// lines a second however a peer misbehaves.
using LogSink = std::function<void(const LogRecord& record)>;

// Routes every later line to `sink`; an empty sink restores the default, which writes
// FormatLogRecord's line to stderr in one write(2). Thread-safe.
void SetLogSink(LogSink sink);

// "ferry[<pid>]: <message> [endpoint=... peer_pid=... peer_uid=... peer=<address> method=...
// status=...]", the fields present only when known.
std::string FormatLogRecord(const LogRecord& record);

}  // namespace ferry
