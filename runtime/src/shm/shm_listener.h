// Listening for shared-memory clients: the rendezvous socket of "shm://name" (and the hidden
// one a server offers socket clients for the upgrade).
#pragma once

#include <memory>
#include <string>

#include "core/listener.h"
#include "core/unix_socket.h"

namespace ferry::internal {

class ShmListener final : public Listener {
 public:
  // ALREADY_EXISTS when a live server holds the socket path.
  static Result<std::unique_ptr<ShmListener>> Listen(const std::string& endpoint,
                                                     const std::string& socket_path);
  // The hidden rendezvous of a socket server's upgrade: "@name" in the abstract namespace.
  static Result<std::unique_ptr<ShmListener>> ListenAbstract(const std::string& name);
  ~ShmListener() override;

  int fd() const override { return socket_.fd.get(); }
  const std::string& endpoint() const override { return endpoint_; }
  const std::string& socket_path() const { return socket_.path; }
  Fd Accept() override;
  std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) override;

 private:
  ShmListener(std::string endpoint, NamedSocket socket)
      : endpoint_(std::move(endpoint)), socket_(std::move(socket)) {}

  std::string endpoint_;
  NamedSocket socket_;
};

}  // namespace ferry::internal
