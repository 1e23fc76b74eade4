// "mq://name": the rendezvous over the Unix socket <runtime dir>/name.mq.sock, where the server
// creates a connection's two message queues and the client opens them; calls then travel on
// the queues (MqLink) and the socket is closed.
#pragma once

#include <memory>
#include <string>

#include "core/client_transport.h"
#include "core/endpoint.h"
#include "core/listener.h"
#include "core/unix_socket.h"
#include "ferry/options.h"

namespace ferry::internal {

class MqListener final : public Listener {
 public:
  // Sweeps queues a crashed server left behind, then listens. ALREADY_EXISTS when a live
  // server holds the name.
  static Result<std::unique_ptr<MqListener>> Listen(const Endpoint& endpoint);
  ~MqListener() override;

  int fd() const override { return socket_.fd.get(); }
  const std::string& endpoint() const override { return endpoint_; }
  Fd Accept() override;
  std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) override;

 private:
  MqListener(std::string endpoint, NamedSocket socket)
      : endpoint_(std::move(endpoint)), socket_(std::move(socket)) {}

  std::string endpoint_;
  NamedSocket socket_;
};

// UNAVAILABLE when nothing listens there; DEADLINE_EXCEEDED past options.connect_timeout; the
// server's refusal.
Result<std::shared_ptr<ClientTransport>> ConnectMq(const Endpoint& endpoint,
                                                   const ConnectOptions& options);

}  // namespace ferry::internal
