// Listening on "unix:///path" and "tcp://host:port" (Boost.Asio), and the server's side of
// the socket handshake, which may offer a same-host client the move to shared memory.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/endpoint.h"
#include "core/listener.h"
#include "core/unix_socket.h"

namespace ferry::internal {

class SocketListener final : public Listener {
 public:
  // ALREADY_EXISTS when a live server holds the unix path or the tcp port is taken;
  // UNAVAILABLE when the host does not resolve or binding fails.
  static Result<std::unique_ptr<SocketListener>> Listen(const Endpoint& endpoint);
  ~SocketListener() override;

  int fd() const override;
  const std::string& endpoint() const override { return endpoint_; }
  Fd Accept() override;
  std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) override;

 private:
  SocketListener() : acceptor_(io_) {}

  std::string endpoint_;
  bool tcp_ = false;
  NamedSocket unix_;  // unix://
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;  // tcp://
};

}  // namespace ferry::internal
