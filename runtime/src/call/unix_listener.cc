// Accepting clients on a Unix stream socket.
#include "call/unix_listener.h"

#include <sys/socket.h>

namespace ferry::internal {

Result<std::unique_ptr<Listener>> UnixListener::Listen(const std::string& endpoint,
                                                       const std::string& socket_path,
                                                       NewConnectionFn new_connection) {
  Result<NamedSocket> socket = ListenUnix(socket_path);
  if (!socket.ok()) return socket.status();
  return std::unique_ptr<Listener>(
      new UnixListener(endpoint, std::move(*socket), new_connection));
}

Result<std::unique_ptr<Listener>> UnixListener::ListenAbstract(const std::string& name,
                                                               NewConnectionFn new_connection) {
  Result<Fd> fd = internal::ListenAbstract(name);
  if (!fd.ok()) return fd.status();
  NamedSocket socket;
  socket.fd = std::move(*fd);  // no path, no lock file: nothing to remove
  return std::unique_ptr<Listener>(new UnixListener(name, std::move(socket), new_connection));
}

UnixListener::~UnixListener() { RemoveNamedSocket(socket_); }

Fd UnixListener::Accept() { return Fd(accept4(fd(), nullptr, nullptr, SOCK_CLOEXEC)); }

}  // namespace ferry::internal
