// The one table from endpoint schemes to the transports that serve them: how a client
// connects and how a server listens, for shm://, unix://, tcp:// and mq://.
#pragma once

#include <memory>
#include <string>

#include "call/message_link.h"
#include "call/endpoint.h"
#include "call/listener.h"
#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry::internal {

// Connects to `endpoint` and runs the transport's handshake (a unix:// or tcp:// connection
// moves to shared memory when the server offers it and options allow).
Result<std::shared_ptr<MessageLink>> ConnectTransport(const Endpoint& endpoint,
                                                      const ConnectOptions& options);

// Starts listening on `endpoint`.
Result<std::unique_ptr<Listener>> ListenTransport(const Endpoint& endpoint);

// The hidden abstract rendezvous through which socket clients on this host move to shared
// memory.
Result<std::unique_ptr<Listener>> ListenShmUpgrade(const std::string& abstract_name);

}  // namespace ferry::internal
