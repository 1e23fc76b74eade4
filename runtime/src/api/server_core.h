// ferry::Server's implementation: the service table, listeners, the accept thread and the
// set of live connections.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "call/listener.h"
#include "os/log.h"
#include "call/memory_budget.h"
#include "call/server_connection.h"
#include "os/unix_socket.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "ferry/service.h"

namespace ferry::internal {

class ServerCore {
 public:
  explicit ServerCore(ServerOptions options);
  ~ServerCore();

  Status Add(ServiceBinding binding);
  Status Intercept(ServerInterceptor interceptor);
  Status Listen(std::string_view endpoint);
  void Run();
  // `drain_until`: calls in flight may finish until then (time_point::min(): none may).
  void Shutdown(std::chrono::steady_clock::time_point drain_until);
  size_t connection_count() const;
  uint64_t bytes_copied() const;
  std::vector<MethodStats> method_stats() const;
  std::vector<std::string> endpoints() const;
  // The services added (the built-in ones last, once listening). Fixed once listening; before
  // that, only from the thread that adds.
  std::vector<const ServiceBinding*> services() const;
  // The service named `name`; NOT_FOUND (the words ferry.Reflection and ferry.Health answer
  // with) when there is none.
  Result<const ServiceBinding*> FindService(std::string_view name) const;
  // ferry.Health's answer for `service` ("": the server as a whole); NOT_FOUND as above.
  Result<bool> Serving(std::string_view service) const;
  Status SetServing(std::string_view service, bool serving);

 private:
  // The hidden shared-memory listener socket clients are upgraded through; made with the
  // first socket listener. Called with mutex_ held.
  Status EnsureUpgradeListener();
  // Add()'s work, with mutex_ held.
  Status AddLocked(ServiceBinding binding);
  // Shutdown()'s work, waiting for every thread; never from one of this server's handlers.
  void ShutdownAndWait(std::chrono::steady_clock::time_point drain_until =
                           std::chrono::steady_clock::time_point::min());
  // A connection and what admission knows of it.
  struct Admitted {
    std::shared_ptr<ServerConnection> connection;
    std::chrono::steady_clock::time_point accepted;
    std::optional<uid_t> uid;  // the peer's, on Unix sockets
    bool dropped = false;      // stopped to make room; its thread is ending
  };

  void AcceptLoop();
  void Accept(Listener& listener, LogLimiter& log);
  // Admission of a client accepted with `uid`: OK, making room first if needed (by dropping
  // the oldest pending connection), or RESOURCE_EXHAUSTED. With mutex_ held.
  Status AdmitLocked(std::optional<uid_t> uid, LogLimiter& log);
  // Joins and drops connections whose thread has ended.
  void Reap();
  void Wake();

  const ServerOptions options_;
  // Lent to every connection: declared before connections_ so that it outlives them.
  // Shared with the connections' pools, which may outlive the server.
  const std::shared_ptr<MemoryBudget> memory_budget_ =
      std::make_shared<MemoryBudget>(options_.memory_budget_bytes);
  std::vector<std::unique_ptr<ServiceBinding>> services_;
  // Serves the polled connections; made by the first Listen(), stopped once they are gone.
  std::shared_ptr<ServerLoop> loop_;
  MethodTable methods_;
  MethodCountersTable counters_;  // one per method, made by Add
  std::vector<ServerInterceptor> interceptors_;  // fixed once listening
  // ferry.Health's answers by service name ("": the whole server, there from the start).
  mutable std::mutex health_mutex_;
  std::map<std::string, bool, std::less<>> serving_{{"", true}};

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // One per listener, same index; kept until the server is destroyed, since connections
  // log through them after their listener is gone.
  std::vector<std::unique_ptr<LogLimiter>> listener_logs_;
  std::string upgrade_path_;  // the upgrade listener's socket, once there is one
  std::list<Admitted> connections_;  // in the order accepted
  uint64_t retired_bytes_copied_ = 0;  // of connections already reaped
  bool listening_ = false;
  bool builtins_added_ = false;  // by the first Listen()
  bool stopping_ = false;
  bool stopped_ = false;
  std::condition_variable stopped_cv_;

  Fd wake_;  // eventfd: new listener, finished connection, shutdown
  std::thread acceptor_;
  std::once_flag shutdown_once_;
  // Runs Shutdown() when a handler asked for it (a handler cannot wait for its own thread).
  std::thread handler_shutdown_;
};

}  // namespace ferry::internal
