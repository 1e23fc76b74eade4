// What a Channel needs from a connection, whatever carries it. Shared memory implements it
// today (ShmClientConnection); socket and queue transports implement the same interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "ferry/service.h"

namespace ferry::internal {

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;

  // "shm" (and later "unix", "tcp", "mq").
  virtual std::string_view name() const = 0;
  virtual const std::string& endpoint() const = 0;
  virtual bool connected() const = 0;
  virtual uint64_t bytes_copied() const = 0;
  // A message to build a request in, in the transport's own memory.
  virtual OutgoingMessage NewMessage(size_t size_hint) = 0;
  // Sends `request` and waits for the reply (for oneway: until it is queued).
  virtual Result<IncomingMessage> Call(uint32_t method_id, MethodKind kind,
                                       OutgoingMessage request, const CallOptions& options) = 0;
};

}  // namespace ferry::internal
