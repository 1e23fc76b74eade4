// The server's end of one client connection, whatever transport carries it, and what a
// connection gets from the server that owns it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "call/dispatch.h"
#include "call/method_stats.h"
#include "os/log.h"
#include "call/memory_budget.h"
#include "call/server_loop.h"
#include "ferry/options.h"

namespace ferry::internal {

// True on a thread that runs handlers of the server owning `methods` (where that server's
// Shutdown() must not wait for itself). Every transport's handler threads call
// MarkHandlerThreadOf first.
bool OnHandlerThreadOf(const MethodTable& methods);
void MarkHandlerThreadOf(const MethodTable& methods);

// What the owning server lends each connection; everything referenced outlives the connection.
struct ConnectionEnv {
  // The endpoint the client connected to, as the listener names it (for log lines).
  std::string endpoint;
  const MethodTable* methods;
  // Where ended calls are counted (null: nowhere).
  const MethodCountersTable* counters;
  // Run around every handler, first outermost (null or empty: none).
  const std::vector<ServerInterceptor>* interceptors;
  const ServerOptions* options;
  // Runs on the connection's own thread once it has ended (the server then reaps it).
  std::function<void()> on_finished;
  // The rendezvous socket of this server's shared-memory upgrade, offered to socket clients
  // on the same host; empty when the server does not offer it.
  std::string upgrade_path;
  // Where lines about this connection's peer go (shared per listener, so a flood of bad
  // peers costs a few lines a second).
  LogLimiter* log;
  // The server's memory budget for socket connections (see ServerOptions).
  std::shared_ptr<MemoryBudget> budget;
  // The server's worker pool, which serves connections whose link can be polled; null: every
  // connection runs threads of its own.
  std::shared_ptr<ServerLoop> loop;
};

class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // Starts the connection's thread(s). False when none could be started (the client is then
  // disconnected).
  virtual bool Start() = 0;
  // Asks the connection to end (disconnects the client); returns at once.
  virtual void Stop() = 0;
  // Waits for the connection's threads.
  virtual void Join() = 0;
  virtual bool finished() const = 0;
  // Payload bytes this side has copied for the connection (see Server::bytes_copied()).
  virtual uint64_t bytes_copied() const = 0;
  // Refuses new calls from now on (UNAVAILABLE); calls in flight go on. Returns at once.
  virtual void Drain() = 0;
  // Waits until no call is in flight, or until `until`; true when none is.
  virtual bool WaitDrained(std::chrono::steady_clock::time_point until) = 0;
  // After draining: sends nothing more and waits until the client has read what was sent and
  // left, or until `until` (Stop() then ends the connection).
  virtual void Linger(std::chrono::steady_clock::time_point until) = 0;

  // True once the handshake succeeded. Until then the connection is "pending": it may be
  // dropped to make room for a newer one (ServerOptions::max_pending_handshakes).
  bool established() const { return established_.load(std::memory_order_acquire); }

 protected:
  // Each transport calls this on the connection's thread when its handshake succeeded.
  void MarkEstablished() { established_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> established_{false};
};

}  // namespace ferry::internal
