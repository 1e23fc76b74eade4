// Accepting clients and owning their connections for ferry::Server.
#include "api/server_core.h"

#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <random>

#include "api/builtin_services.h"
#include "api/transports.h"
#include "call/endpoint.h"
#include "call/handshake.h"
#include "os/log.h"
#include "shm/segment.h"

namespace ferry::internal {
namespace {

using Clock = std::chrono::steady_clock;

// The method table of the server whose handlers this thread runs, if any.
thread_local const MethodTable* handler_thread_of = nullptr;

// How long a pending connection keeps its place in a full server: past it, it gives way to a
// newcomer. Honest handshakes take milliseconds; keeping young ones means a client in the
// middle of its handshake is not dropped for the next one to arrive.
constexpr auto kPendingGrace = std::chrono::milliseconds(100);

// How long a drained connection waits for its client to read the last replies and leave.
constexpr auto kLinger = std::chrono::seconds(1);

}  // namespace

bool OnHandlerThreadOf(const MethodTable& methods) { return handler_thread_of == &methods; }
void MarkHandlerThreadOf(const MethodTable& methods) { handler_thread_of = &methods; }

ServerCore::ServerCore(ServerOptions options)
    : options_(std::move(options)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ServerCore::~ServerCore() {
  ShutdownAndWait();
  // Only handlers start this thread, and Shutdown() has joined every handler by now.
  if (handler_shutdown_.joinable()) handler_shutdown_.join();
}

Status ServerCore::Add(ServiceBinding binding) {
  std::lock_guard lock(mutex_);
  if (listening_) return Status::FailedPrecondition("add services before Listen()");
  return AddLocked(std::move(binding));
}

Status ServerCore::AddLocked(ServiceBinding binding) {
  {
    std::lock_guard health(health_mutex_);
    if (serving_.count(binding.full_name()) != 0) {
      return Status::AlreadyExists("the service " + std::string(binding.full_name()) +
                                   " was already added");
    }
  }
  for (const ServiceBinding::Method& method : binding.methods()) {
    if (auto taken = methods_.find(method.id); taken != methods_.end()) {
      return Status::AlreadyExists("method id of " + method.name + " is already taken by " +
                                   taken->second->name);
    }
  }
  services_.push_back(std::make_unique<ServiceBinding>(std::move(binding)));
  for (const ServiceBinding::Method& method : services_.back()->methods()) {
    methods_.emplace(method.id, &method);
    counters_.emplace(method.id, std::make_unique<MethodCounters>());
  }
  std::lock_guard health(health_mutex_);
  serving_.emplace(services_.back()->full_name(), true);
  return Status::Ok();
}

std::vector<const ServiceBinding*> ServerCore::services() const {
  std::lock_guard lock(mutex_);
  std::vector<const ServiceBinding*> services;
  for (const auto& service : services_) services.push_back(service.get());
  return services;
}

namespace {
Status NoSuchService(std::string_view name) {
  return Status::NotFound("no service named \"" + std::string(name) + "\" on this server");
}
}  // namespace

Result<const ServiceBinding*> ServerCore::FindService(std::string_view name) const {
  for (const ServiceBinding* service : services()) {
    if (service->full_name() == name) return service;
  }
  return NoSuchService(name);
}

Result<bool> ServerCore::Serving(std::string_view service) const {
  std::lock_guard lock(health_mutex_);
  const auto found = serving_.find(service);
  if (found == serving_.end()) return NoSuchService(service);
  return found->second;
}

Status ServerCore::SetServing(std::string_view service, bool serving) {
  std::lock_guard lock(health_mutex_);
  const auto found = serving_.find(service);
  if (found == serving_.end()) return NoSuchService(service);
  found->second = serving;
  return Status::Ok();
}

Status ServerCore::Intercept(ServerInterceptor interceptor) {
  std::lock_guard lock(mutex_);
  if (listening_) return Status::FailedPrecondition("add interceptors before Listen()");
  if (!interceptor) return Status::InvalidArgument("an empty interceptor");
  interceptors_.push_back(std::move(interceptor));
  return Status::Ok();
}

std::vector<MethodStats> ServerCore::method_stats() const {
  std::lock_guard lock(mutex_);  // services_ grows only under it (and only before Listen)
  std::vector<MethodStats> stats;
  for (const auto& service : services_) {
    for (const ServiceBinding::Method& method : service->methods()) {
      stats.push_back(counters_.at(method.id)->Snapshot(method.name));
    }
  }
  return stats;
}

Status ServerCore::Listen(std::string_view text) {
  Result<Endpoint> endpoint = ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status();
  // Unusable shared-memory options would refuse every client: say so now instead.
  if (Result<shm::SegmentHeader> layout =
          shm::ComputeLayout(options_.shm.max_calls_in_flight, options_.shm.slot_classes);
      !layout.ok()) {
    return layout.status();
  }
  if (!wake_.valid()) return Status::Unavailable("eventfd: " + std::string(std::strerror(errno)));
  std::lock_guard lock(mutex_);
  if (stopping_) return Status::FailedPrecondition("server is shut down");
  if (!builtins_added_) {  // the built-in services come last, once the user's are known
    builtins_added_ = true;
    if (options_.reflection) {
      if (Status added = AddLocked(ReflectionBinding(*this)); !added.ok()) return added;
    }
    if (options_.health) {
      if (Status added = AddLocked(HealthBinding(*this)); !added.ok()) return added;
    }
  }
  if (!loop_) {
    const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
    const unsigned workers = options_.worker_threads > 0 ? options_.worker_threads
                                                         : std::max(2U, cpus);
    const unsigned most = options_.max_worker_threads > 0 ? options_.max_worker_threads
                                                          : std::max(workers, 4 * cpus);
    Result<std::shared_ptr<ServerLoop>> loop =
        ServerLoop::Create(workers, most, [this] { MarkHandlerThreadOf(methods_); });
    if (!loop.ok()) return loop.status();
    loop_ = std::move(*loop);
  }
  Result<std::unique_ptr<Listener>> listener = ListenTransport(*endpoint);
  if (!listener.ok()) return listener.status();
  if (endpoint->scheme == Scheme::kUnix || endpoint->scheme == Scheme::kTcp) {
    if (Status s = EnsureUpgradeListener(); !s.ok()) return s;
  }
  if (!acceptor_.joinable()) {
    try {
      acceptor_ = std::thread([this] { AcceptLoop(); });
    } catch (const std::system_error& e) {
      return Status::ResourceExhausted(std::string("cannot start the accept thread: ") + e.what());
    }
  }
  listeners_.push_back(std::move(*listener));
  listener_logs_.push_back(std::make_unique<LogLimiter>());
  listening_ = true;
  Wake();
  return Status::Ok();
}

Status ServerCore::EnsureUpgradeListener() {
  if (!options_.allow_shm || !upgrade_path_.empty()) return Status::Ok();
  // Abstract, so a killed server leaves no file; the pid and a per-process count make it
  // unique on the host, the random part unguessable for squatters.
  static std::atomic<uint32_t> count{0};
  const std::string name = "@ferry-upgrade-" + std::to_string(getpid()) + "-" +
                           std::to_string(count.fetch_add(1)) + "-" +
                           std::to_string(std::random_device()());
  Result<std::unique_ptr<Listener>> listener =
      ListenShmUpgrade(name);
  if (!listener.ok()) return listener.status();
  upgrade_path_ = name;
  listeners_.push_back(std::move(*listener));
  listener_logs_.push_back(std::make_unique<LogLimiter>());
  return Status::Ok();
}

std::vector<std::string> ServerCore::endpoints() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> bound;
  for (const auto& listener : listeners_) {
    if (listener->endpoint() != upgrade_path_) bound.push_back(listener->endpoint());
  }
  return bound;
}

void ServerCore::Run() {
  std::unique_lock lock(mutex_);
  stopped_cv_.wait(lock, [this] { return stopped_; });
}

void ServerCore::Wake() { RingEventFd(wake_.get()); }

void ServerCore::Shutdown(Clock::time_point drain_until) {
  if (!OnHandlerThreadOf(methods_)) {
    ShutdownAndWait(drain_until);
    return;
  }
  std::lock_guard lock(mutex_);
  if (handler_shutdown_.joinable()) return;
  try {
    handler_shutdown_ = std::thread([this, drain_until] { ShutdownAndWait(drain_until); });
  } catch (const std::system_error&) {
    // No thread to finish the job: at least stop accepting; ~Server completes the rest.
    stopping_ = true;
    Wake();
    LogLine("cannot start the shutdown thread; stopped accepting only");
  }
}

void ServerCore::ShutdownAndWait(Clock::time_point drain_until) {
  std::call_once(shutdown_once_, [this, drain_until] {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    Wake();
    if (acceptor_.joinable()) acceptor_.join();
    // The acceptor is gone: nothing else touches the lists now.
    listeners_.clear();  // removes their files
    // Calls in flight may finish by drain_until; new ones are refused meanwhile. Then whatever
    // is left is cancelled (its handlers see ctx.Cancelled()) and the clients disconnected.
    if (drain_until > Clock::now()) {
      for (auto& admitted : connections_) admitted.connection->Drain();
      for (auto& admitted : connections_) (void)admitted.connection->WaitDrained(drain_until);
      // Half-closed, a connection lets its client read the last replies before it goes (a
      // socket closed with the client's frames unread would be reset, losing them).
      const Clock::time_point linger = std::min(drain_until, Clock::now() + kLinger);
      for (auto& admitted : connections_) admitted.connection->Linger(linger);
    }
    for (auto& admitted : connections_) admitted.connection->Stop();
    for (auto& admitted : connections_) admitted.connection->Join();
    // No connection is served any more (replies deferred by handlers go out on their own).
    if (loop_) loop_->Stop();
    {
      std::lock_guard lock(mutex_);
      for (const auto& admitted : connections_) {
        retired_bytes_copied_ += admitted.connection->bytes_copied();
      }
      connections_.clear();
      stopped_ = true;
    }
    stopped_cv_.notify_all();
  });
}

size_t ServerCore::connection_count() const {
  std::lock_guard lock(mutex_);
  size_t live = 0;
  for (const auto& admitted : connections_) live += admitted.connection->finished() ? 0 : 1;
  return live;
}

uint64_t ServerCore::bytes_copied() const {
  std::lock_guard lock(mutex_);
  uint64_t total = retired_bytes_copied_;
  for (const auto& admitted : connections_) total += admitted.connection->bytes_copied();
  return total;
}

void ServerCore::AcceptLoop() {
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
      for (const auto& listener : listeners_) fds.push_back({listener->fd(), POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      LogLine(std::string("accept loop poll failed: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) {
      DrainEventFd(wake_.get());
      Reap();
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      Listener* listener = nullptr;
      LogLimiter* log = nullptr;
      {
        std::lock_guard lock(mutex_);  // only this thread and Listen() touch the lists
        if (i - 1 < listeners_.size()) {
          listener = listeners_[i - 1].get();
          log = listener_logs_[i - 1].get();
        }
      }
      if (listener != nullptr) Accept(*listener, *log);
    }
  }
}

void ServerCore::Accept(Listener& listener, LogLimiter& log) {
  Fd client = listener.Accept();
  if (!client.valid()) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
    const int error = errno;
    log.Log(std::string("accept on ") + listener.endpoint() + " failed: " + std::strerror(error));
    if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
      // The client stays in the backlog and poll() would report it again at once: give
      // connections time to close rather than spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return;
  }
  Reap();  // connections that have ended give their places back before this one is judged
  const std::optional<uid_t> uid = LocalPeerUid(client.get());
  std::lock_guard lock(mutex_);
  if (Status admitted = AdmitLocked(uid, log); !admitted.ok()) {
    // Refused here, without a thread, so refused clients cannot pile up threads. The client
    // reads the refusal even if its Hello finds the socket closed.
    (void)SendRefusal(client.get(), admitted);
    log.Log("refused a client on " + listener.endpoint() + ": " + admitted.message());
    return;
  }
  std::shared_ptr<ServerConnection> connection = listener.NewConnection(
      std::move(client),
      ConnectionEnv{listener.endpoint(), &methods_, &counters_, &interceptors_, &options_,
                    [this] { Wake(); }, upgrade_path_, &log, memory_budget_, loop_});
  if (connection->Start()) connections_.push_back({std::move(connection), Clock::now(), uid});
}

Status ServerCore::AdmitLocked(std::optional<uid_t> uid, LogLimiter& log) {
  size_t established = 0;
  size_t pending = 0;
  size_t of_uid = 0;
  for (const Admitted& admitted : connections_) {
    if (admitted.dropped || admitted.connection->finished()) continue;
    ++(admitted.connection->established() ? established : pending);
    if (uid && admitted.uid == uid) ++of_uid;
  }
  const Clock::time_point now = Clock::now();
  // Drops the oldest connection still in its handshake that `eligible` allows; false if none.
  auto drop_oldest_pending = [&](auto eligible, const char* why) {
    for (Admitted& admitted : connections_) {
      if (admitted.dropped || admitted.connection->finished() ||
          admitted.connection->established() || !eligible(admitted)) {
        continue;
      }
      admitted.dropped = true;  // its thread ends on its own; it no longer counts
      admitted.connection->Stop();
      --pending;
      if (uid && admitted.uid == uid) --of_uid;
      log.Log(std::string("dropped a connection still in its handshake after ") +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 now - admitted.accepted)
                                 .count()) +
              " ms: " + why);
      return true;
    }
    return false;
  };
  auto stale = [&](const Admitted& admitted) { return now - admitted.accepted > kPendingGrace; };
  if (uid && options_.max_connections_per_uid > 0 && of_uid >= options_.max_connections_per_uid &&
      !drop_oldest_pending([&](const Admitted& a) { return a.uid == uid && stale(a); },
                           "its uid is at max_connections_per_uid")) {
    return Status::ResourceExhausted(
        "server has max_connections_per_uid (" + std::to_string(options_.max_connections_per_uid) +
        ") clients of uid " + std::to_string(*uid));
  }
  if (established + pending >= options_.max_connections &&
      !drop_oldest_pending(stale, "the server is at max_connections")) {
    return Status::ResourceExhausted("server has max_connections (" +
                                     std::to_string(options_.max_connections) + ") clients");
  }
  if (pending >= std::max(1U, options_.max_pending_handshakes)) {
    drop_oldest_pending([](const Admitted&) { return true; }, "max_pending_handshakes reached");
  }
  return Status::Ok();
}

void ServerCore::Reap() {
  std::list<Admitted> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (it->connection->finished()) {
        retired_bytes_copied_ += it->connection->bytes_copied();
        done.splice(done.end(), connections_, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& admitted : done) admitted.connection->Join();
  if (done.empty()) return;
  done.clear();
  // A finished connection's threads and buffers went back to malloc, which keeps freed memory
  // in per-thread arenas; give it back to the system, or a server that once had many clients
  // stays large for good. Rare (once per batch of ended connections) and cheap next to
  // tearing a connection down.
  malloc_trim(0);
}

}  // namespace ferry::internal
