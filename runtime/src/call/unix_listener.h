// Listening on a Unix stream socket, whatever transport the accepted clients then use: the
// rendezvous of shm:// and mq://, a unix:// endpoint, and the hidden socket through which
// socket clients move to shared memory.
#pragma once

#include <memory>
#include <string>

#include "call/listener.h"
#include "os/unix_socket.h"

namespace ferry::internal {

class UnixListener final : public Listener {
 public:
  // Makes the connection that serves an accepted client (not yet started).
  using NewConnectionFn = std::shared_ptr<ServerConnection> (*)(Fd client, ConnectionEnv env);

  // Takes the path's lock and listens there. ALREADY_EXISTS when a live server holds it.
  static Result<std::unique_ptr<Listener>> Listen(const std::string& endpoint,
                                                  const std::string& socket_path,
                                                  NewConnectionFn new_connection);
  // Listens on "@name" in the abstract namespace (no file, nothing to remove).
  static Result<std::unique_ptr<Listener>> ListenAbstract(const std::string& name,
                                                          NewConnectionFn new_connection);
  ~UnixListener() override;

  int fd() const override { return socket_.fd.get(); }
  const std::string& endpoint() const override { return endpoint_; }
  Fd Accept() override;
  std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) override {
    return new_connection_(std::move(client), std::move(env));
  }

 private:
  UnixListener(std::string endpoint, NamedSocket socket, NewConnectionFn new_connection)
      : endpoint_(std::move(endpoint)),
        socket_(std::move(socket)),
        new_connection_(new_connection) {}

  std::string endpoint_;
  NamedSocket socket_;
  NewConnectionFn new_connection_;
};

}  // namespace ferry::internal
