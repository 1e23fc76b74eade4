// Listening on "tcp://host:port" (Boost.Asio), and the server's side of unix:// and tcp://
// connections: the socket handshake, which may offer a same-host client the move to shared
// memory, then calls over the socket.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "call/endpoint.h"
#include "call/listener.h"
#include "os/unix_socket.h"

namespace ferry::internal {

// A connection for a client accepted on a unix:// or tcp:// endpoint (not yet started).
std::shared_ptr<ServerConnection> NewSocketConnection(Fd client, ConnectionEnv env);

class TcpListener final : public Listener {
 public:
  // ALREADY_EXISTS when the port is taken; UNAVAILABLE when the host does not resolve or
  // binding fails.
  static Result<std::unique_ptr<Listener>> Listen(const Endpoint& endpoint);

  int fd() const override;
  const std::string& endpoint() const override { return endpoint_; }
  Fd Accept() override;
  std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) override {
    return NewSocketConnection(std::move(client), std::move(env));
  }

 private:
  TcpListener() : acceptor_(io_) {}

  std::string endpoint_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace ferry::internal
