// What a Channel calls through: the engine of its connection, replaced by a new connection on
// the first call after the old one was lost (ConnectOptions::reconnect). A call takes the
// engine it starts on and keeps it (an engine lives while calls, streams or messages of it
// do), so replacing the engine never disturbs a call in flight.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "call/client_engine.h"
#include "call/message_link.h"
#include "call/reconnect_backoff.h"
#include "ferry/channel.h"
#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry::internal {

class ClientChannel {
 public:
  using Clock = std::chrono::steady_clock;
  // Makes a connection, handshake done, within options.connect_timeout.
  using Connector = std::function<Result<std::shared_ptr<MessageLink>>(const ConnectOptions&)>;

  // Over `engine`, the connection Connect made; `connect` makes the next ones.
  ClientChannel(std::shared_ptr<ClientEngine> engine, ConnectOptions options, Connector connect);
  ClientChannel(const ClientChannel&) = delete;
  ClientChannel& operator=(const ClientChannel&) = delete;

  // The engine for a call starting now: the current one while it is usable; else, once the
  // backoff allows, a new connection made on this thread (callers that come meanwhile wait for
  // it, by their deadlines), whose time comes off `options.deadline`. Errors: the failed
  // attempt's (UNAVAILABLE when nothing listens), the same during the backoff after it, and
  // DEADLINE_EXCEEDED when the deadline passes first. With reconnecting off, the lost
  // connection's engine (its calls fail with UNAVAILABLE).
  Result<std::shared_ptr<ClientEngine>> ForCall(CallOptions& options) {
    std::shared_ptr<ClientEngine> engine = current();
    if (engine->Usable()) [[likely]] {
      return engine;
    }
    return Reconnect(options);
  }
  // The engine now, usable or not: what requests are built in (ClientEngine::Adopt moves one
  // if its call ends up on another connection).
  std::shared_ptr<ClientEngine> current() const {
    std::lock_guard lock(engine_mutex_);
    return engine_;
  }

  ChannelState state() const;
  const std::string& endpoint() const { return endpoint_; }
  const ConnectOptions& options() const { return options_; }
  // Every connection's, the replaced ones' as they were when replaced.
  uint64_t bytes_copied() const;

 private:
  // ForCall's when the current engine is unusable.
  Result<std::shared_ptr<ClientEngine>> Reconnect(CallOptions& options);

  const std::string endpoint_;
  const ConnectOptions options_;
  const Connector connect_;
  // Read by every call; replaced under mutex_ too. (A mutex rather than
  // std::atomic<std::shared_ptr>: GCC 12's has no ThreadSanitizer annotations.)
  mutable std::mutex engine_mutex_;
  std::shared_ptr<ClientEngine> engine_;

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable attempt_ended_;
  bool connecting_ = false;
  // The last attempt failed: calls fail with `last_failure_` until `next_attempt_`.
  bool failed_ = false;
  Status last_failure_;
  Clock::time_point next_attempt_{};
  ReconnectBackoff backoff_;
  uint64_t replaced_bytes_copied_ = 0;
};

}  // namespace ferry::internal
