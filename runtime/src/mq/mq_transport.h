// "mq://name": the rendezvous over the Unix socket <runtime dir>/name.mq.sock, where the server
// creates a connection's two message queues and the client opens them; calls then travel on
// the queues (MqLink) and the socket is closed.
#pragma once

#include <memory>
#include <string>

#include "call/message_link.h"
#include "call/endpoint.h"
#include "call/listener.h"
#include "os/unix_socket.h"
#include "ferry/options.h"

namespace ferry::internal {

// Sweeps queues a crashed server left behind, then listens on the rendezvous socket.
// ALREADY_EXISTS when a live server holds the name.
Result<std::unique_ptr<Listener>> ListenMq(const Endpoint& endpoint);

// UNAVAILABLE when nothing listens there; DEADLINE_EXCEEDED past options.connect_timeout; the
// server's refusal.
Result<std::shared_ptr<MessageLink>> ConnectMq(const Endpoint& endpoint,
                                                   const ConnectOptions& options);

}  // namespace ferry::internal
