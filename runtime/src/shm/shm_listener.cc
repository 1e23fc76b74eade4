// Accepting shared-memory clients on a rendezvous socket.
#include "shm/shm_listener.h"

#include <sys/socket.h>

#include "shm/shm_server_connection.h"

namespace ferry::internal {

Result<std::unique_ptr<ShmListener>> ShmListener::Listen(const std::string& endpoint,
                                                         const std::string& socket_path) {
  Result<NamedSocket> socket = ListenUnix(socket_path);
  if (!socket.ok()) return socket.status();
  return std::unique_ptr<ShmListener>(new ShmListener(endpoint, std::move(*socket)));
}

Result<std::unique_ptr<ShmListener>> ShmListener::ListenAbstract(const std::string& name) {
  Result<Fd> fd = internal::ListenAbstract(name);
  if (!fd.ok()) return fd.status();
  NamedSocket socket;
  socket.fd = std::move(*fd);  // no path, no lock file: nothing to remove
  return std::unique_ptr<ShmListener>(new ShmListener(name, std::move(socket)));
}

ShmListener::~ShmListener() { RemoveNamedSocket(socket_); }

Fd ShmListener::Accept() { return Fd(accept4(fd(), nullptr, nullptr, SOCK_CLOEXEC)); }

std::shared_ptr<ServerConnection> ShmListener::NewConnection(Fd client, ConnectionEnv env) {
  return std::make_shared<ShmServerConnection>(std::move(client), std::move(env));
}

}  // namespace ferry::internal
