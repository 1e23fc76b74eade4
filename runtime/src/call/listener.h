// A listening endpoint of a server, whatever its transport: a pollable descriptor that turns
// waiting clients into connections.
#pragma once

#include <memory>
#include <string>

#include "call/server_connection.h"
#include "os/unix_socket.h"
#include "ferry/result.h"

namespace ferry::internal {

class Listener {
 public:
  // Stops listening and removes any file the listener made.
  virtual ~Listener() = default;
  // Readable when a client waits to be accepted.
  virtual int fd() const = 0;
  // The endpoint as bound (a tcp port of 0 is replaced by the port picked).
  virtual const std::string& endpoint() const = 0;
  // The next waiting client; an invalid Fd when none waits (or accept failed: errno says why).
  virtual Fd Accept() = 0;
  // A connection serving `client`, not yet started.
  virtual std::shared_ptr<ServerConnection> NewConnection(Fd client, ConnectionEnv env) = 0;
};

}  // namespace ferry::internal
