// Accepting clients and owning their connections for ferry::Server.
#include "core/server_core.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/endpoint.h"
#include "core/handshake.h"
#include "core/log.h"
#include "shm/segment.h"

namespace ferry::internal {

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
  for (const ServiceBinding::Method& method : binding.methods()) {
    if (auto taken = methods_.find(method.id); taken != methods_.end()) {
      return Status::AlreadyExists("method id of " + method.name + " is already taken by " +
                                   taken->second->name);
    }
  }
  services_.push_back(std::make_unique<ServiceBinding>(std::move(binding)));
  for (const ServiceBinding::Method& method : services_.back()->methods()) {
    methods_.emplace(method.id, &method);
  }
  return Status::Ok();
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
  Result<Listener> listener = ListenUnix(endpoint->socket_path);
  if (!listener.ok()) return listener.status();
  if (!acceptor_.joinable()) {
    try {
      acceptor_ = std::thread([this] { AcceptLoop(); });
    } catch (const std::system_error& e) {
      RemoveListener(*listener);
      return Status::ResourceExhausted(std::string("cannot start the accept thread: ") + e.what());
    }
  }
  listeners_.push_back(std::move(*listener));
  listening_ = true;
  Wake();
  return Status::Ok();
}

void ServerCore::Run() {
  std::unique_lock lock(mutex_);
  stopped_cv_.wait(lock, [this] { return stopped_; });
}

void ServerCore::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof(one));
}

void ServerCore::Shutdown() {
  if (!OnHandlerThreadOf(methods_)) {
    ShutdownAndWait();
    return;
  }
  std::lock_guard lock(mutex_);
  if (handler_shutdown_.joinable()) return;
  try {
    handler_shutdown_ = std::thread([this] { ShutdownAndWait(); });
  } catch (const std::system_error&) {
    // No thread to finish the job: at least stop accepting; ~Server completes the rest.
    stopping_ = true;
    Wake();
    LogLine("cannot start the shutdown thread; stopped accepting only");
  }
}

void ServerCore::ShutdownAndWait() {
  std::call_once(shutdown_once_, [this] {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    Wake();
    if (acceptor_.joinable()) acceptor_.join();
    // The acceptor is gone: nothing else touches the lists now.
    for (Listener& listener : listeners_) RemoveListener(listener);
    listeners_.clear();
    for (auto& connection : connections_) connection->Stop();
    for (auto& connection : connections_) connection->Join();
    {
      std::lock_guard lock(mutex_);
      for (const auto& connection : connections_) {
        retired_bytes_copied_ += connection->bytes_copied();
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
  for (const auto& connection : connections_) live += connection->finished() ? 0 : 1;
  return live;
}

uint64_t ServerCore::bytes_copied() const {
  std::lock_guard lock(mutex_);
  uint64_t total = retired_bytes_copied_;
  for (const auto& connection : connections_) total += connection->bytes_copied();
  return total;
}

void ServerCore::AcceptLoop() {
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
      for (const Listener& listener : listeners_) fds.push_back({listener.fd.get(), POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      LogLine(std::string("accept loop poll failed: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake_.get(), &count, sizeof(count));
      Reap();
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) Accept(fds[i].fd);
    }
  }
}

void ServerCore::Accept(int listen_fd) {
  Fd client(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client.valid()) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
    const int error = errno;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_accept_error_log_ > std::chrono::seconds(1)) {  // one line a second at most
      last_accept_error_log_ = now;
      LogLine(std::string("accept failed: ") + std::strerror(error));
    }
    if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
      // The client stays in the backlog and poll() would report it again at once: give
      // connections time to close rather than spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return;
  }
  std::lock_guard lock(mutex_);
  size_t live = 0;
  for (const auto& connection : connections_) live += connection->finished() ? 0 : 1;
  if (live >= options_.max_connections) {
    // Refused here, without a thread, so idle connections cannot pile up threads. The client
    // reads the refusal even if its Hello finds the socket closed.
    (void)SendRefusal(client.get(),
                      Status::ResourceExhausted("server has max_connections (" +
                                                std::to_string(options_.max_connections) +
                                                ") clients"));
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ > std::chrono::seconds(1)) {  // one line a second at most
      last_refusal_log_ = now;
      LogLine("refused a client: max_connections reached");
    }
    return;
  }
  auto connection = std::make_shared<ServerConnection>(std::move(client), methods_, options_,
                                                       [this] { Wake(); });
  if (connection->Start()) connections_.push_back(std::move(connection));
}

void ServerCore::Reap() {
  std::list<std::shared_ptr<ServerConnection>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished()) {
        retired_bytes_copied_ += (*it)->bytes_copied();
        done.splice(done.end(), connections_, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& connection : done) connection->Join();
}

}  // namespace ferry::internal
