// The scheme table: the only place that knows every transport.
#include "api/transports.h"

#include "mq/mq_transport.h"
#include "os/deadline.h"
#include "shm/shm_link.h"
#include "socket/socket_connect.h"
#include "socket/socket_listener.h"
#include "call/unix_listener.h"

namespace ferry::internal {

Result<std::shared_ptr<MessageLink>> ConnectTransport(const Endpoint& endpoint,
                                                      const ConnectOptions& options) {
  switch (endpoint.scheme) {
    case Scheme::kShm: {
      Result<std::unique_ptr<MessageLink>> link = ConnectShmLink(
          endpoint.socket_path, endpoint.text, options, DeadlineAfter(options.connect_timeout));
      if (!link.ok()) return link.status();
      return std::shared_ptr<MessageLink>(std::move(*link));
    }
    case Scheme::kUnix:
    case Scheme::kTcp:
      return ConnectSocket(
          endpoint, options,
          [&](const std::string& path,
              Clock::time_point deadline) -> Result<std::shared_ptr<MessageLink>> {
            Result<std::unique_ptr<MessageLink>> link =
                ConnectShmLink(path, endpoint.text, options, deadline);
            if (!link.ok()) return link.status();
            return std::shared_ptr<MessageLink>(std::move(*link));
          });
    case Scheme::kMq:
      return ConnectMq(endpoint, options);
  }
  return Status::InvalidArgument("endpoint '" + endpoint.text + "': unknown scheme");
}

Result<std::unique_ptr<Listener>> ListenTransport(const Endpoint& endpoint) {
  switch (endpoint.scheme) {
    case Scheme::kShm:
      return UnixListener::Listen(endpoint.text, endpoint.socket_path, &NewShmConnection);
    case Scheme::kUnix:
      return UnixListener::Listen(endpoint.text, endpoint.socket_path, &NewSocketConnection);
    case Scheme::kTcp:
      return TcpListener::Listen(endpoint);
    case Scheme::kMq:
      return ListenMq(endpoint);
  }
  return Status::InvalidArgument("endpoint '" + endpoint.text + "': unknown scheme");
}

Result<std::unique_ptr<Listener>> ListenShmUpgrade(const std::string& abstract_name) {
  return UnixListener::ListenAbstract(abstract_name, &NewShmConnection);
}

}  // namespace ferry::internal
