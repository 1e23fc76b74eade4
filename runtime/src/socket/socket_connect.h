// The client's side of "unix:///path" and "tcp://host:port": connect (bounded by the
// connect timeout), the socket handshake, and the move to shared memory when the server
// offers it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "call/message_link.h"
#include "call/endpoint.h"
#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry::internal {

// Takes a server's offer of shared memory: connects to the rendezvous socket at `path`, by
// `deadline`. Supplied by the layer above (sockets know nothing of shared memory).
using ShmUpgrade = std::function<Result<std::shared_ptr<MessageLink>>(
    const std::string& path, std::chrono::steady_clock::time_point deadline)>;

// UNAVAILABLE when nothing listens there or the host does not resolve; DEADLINE_EXCEEDED
// when connecting and the handshake outlast options.connect_timeout; the server's refusal.
// When the server offers shared memory and options.allow_shm, `upgrade` is tried first; if it
// fails the channel stays on the socket.
Result<std::shared_ptr<MessageLink>> ConnectSocket(const Endpoint& endpoint,
                                                       const ConnectOptions& options,
                                                       const ShmUpgrade& upgrade);

}  // namespace ferry::internal
