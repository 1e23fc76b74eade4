// The client's side of "unix:///path" and "tcp://host:port": connect (bounded by the
// connect timeout), the socket handshake, and the move to shared memory when the server
// offers it.
#pragma once

#include <memory>

#include "core/client_transport.h"
#include "core/endpoint.h"
#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry::internal {

// UNAVAILABLE when nothing listens there or the host does not resolve; DEADLINE_EXCEEDED
// when connecting and the handshake outlast options.connect_timeout; the server's refusal.
Result<std::shared_ptr<ClientTransport>> ConnectSocket(const Endpoint& endpoint,
                                                       const ConnectOptions& options);

}  // namespace ferry::internal
