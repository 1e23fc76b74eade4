// ferry::Server: serves one or more services on one or more endpoints.
//
//   ferry::Server server;
//   server.Add(std::make_shared<CalcImpl>());
//   server.Listen("shm://calc");
//   server.Run();  // until Shutdown()
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/call_context.h"
#include "ferry/options.h"
#include "ferry/service.h"
#include "ferry/status.h"

namespace ferry {

// What a server counted for one of its methods since it started (Server::method_stats()).
struct MethodStats {
  std::string method;  // "package.Service.Method"
  uint64_t calls = 0;   // calls that ended, whatever their status
  uint64_t errors = 0;  // of those, the ones that did not end OK
  // Calls by the status they ended with (codes that occurred, ascending).
  std::vector<std::pair<StatusCode, uint64_t>> by_status;
  // A latency histogram, from the request read to the reply sent: each entry counts the
  // calls under its bound in microseconds and at or over the previous one (the last bound is
  // UINT64_MAX).
  std::vector<std::pair<uint64_t, uint64_t>> latency;
  // The bound (us) under which at least `fraction` (0..1] of the calls ended; 0 when none did.
  uint64_t LatencyBoundMicros(double fraction) const;
};

// Runs around every call a server's handlers take (all kinds, every transport), in the manner
// of gRPC's server interceptors: `next` runs the rest of the chain and then the handler, and
// returns its status. An interceptor may look at the call (context.method(), peer(),
// Deadline()), refuse it by returning a status without calling `next` (the client gets that
// status), time it, or change the status `next` returned. A unary handler that deferred its
// reply (Reply::Defer) has returned when `next` does; the reply goes later.
using ServerInterceptor =
    std::function<Status(CallContext& context, const std::function<Status()>& next)>;

namespace internal {
class ServerCore;
}

class Server {
 public:
  explicit Server(ServerOptions options = {});
  // Shuts down (as Shutdown()) and waits for every connection thread.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds a service implementation. `impl` derives from a generated <Service>::Service; the
  // server keeps it alive. Call before Listen(). ALREADY_EXISTS when a method id is taken.
  template <class Impl>
  Status Add(std::shared_ptr<Impl> impl) {
    return Add(FerryBind(std::move(impl)));  // found by argument-dependent lookup
  }
  Status Add(ServiceBinding binding);
  // Adds an interceptor around every call; the first added runs outermost. Before Listen()
  // (FAILED_PRECONDITION after).
  Status Intercept(ServerInterceptor interceptor);

  // Starts accepting on `endpoint`: "shm://name", "unix:///path", "tcp://host:port" (port 0
  // picks a free port: see endpoints()). Clients may connect as soon as this returns OK.
  // ALREADY_EXISTS when another live server holds the name, path or port, or another
  // program listens on the unix:// path; FAILED_PRECONDITION when the path (or <path>.lock)
  // holds anything but a stale ferry socket (or lock file): it is never replaced;
  // PERMISSION_DENIED when the directory refuses us; INVALID_ARGUMENT for a malformed
  // endpoint; UNAVAILABLE when the runtime dir cannot be used or binding fails otherwise.
  // A unix:// or tcp:// endpoint also makes a hidden rendezvous socket (in the abstract
  // socket namespace, so no file) through which same-host clients of the same user move to
  // shared memory (unless ServerOptions::allow_shm is false).
  Status Listen(std::string_view endpoint);

  // The endpoints listened on, as bound: "tcp://127.0.0.1:0" appears with the port picked.
  std::vector<std::string> endpoints() const;

  // Blocks until Shutdown() is called (from another thread or a signal-handling thread).
  void Run();

  // Stops accepting, disconnects every client (their calls fail with UNAVAILABLE), lets
  // running handlers finish, removes the endpoints, and returns when all that is done.
  // Thread-safe; idempotent. Called from a handler, it starts the shutdown on another thread
  // and returns at once (a handler cannot wait for its own thread).
  void Shutdown();
  // The same, after draining: stops accepting, refuses new calls (UNAVAILABLE: "the server
  // is shutting down"), and lets calls and streams in flight finish until `drain_until`;
  // what is left then is cancelled (handlers see ctx.Cancelled(), clients get UNAVAILABLE).
  void Shutdown(std::chrono::steady_clock::time_point drain_until);

  // Connections currently open, those still in their handshake included.
  size_t connection_count() const;
  // Payload bytes the runtime has copied while building replies (growth across slot classes),
  // over all connections so far. Zero when handlers Reserve() their reply's size.
  uint64_t bytes_copied() const;
  // Per-method counts, latency histograms and errors by status, one entry per method served
  // (in the order services were added). Thread-safe; cheap enough to poll.
  std::vector<MethodStats> method_stats() const;

  // What ferry.Health answers for `service` ("package.Service", or "" for the server as a
  // whole): SERVING (the default) or NOT_SERVING. NOT_FOUND for a service not added.
  // Thread-safe, at any time; calls are served either way.
  Status SetServing(std::string_view service, bool serving);

 private:
  std::unique_ptr<internal::ServerCore> core_;
};

}  // namespace ferry
