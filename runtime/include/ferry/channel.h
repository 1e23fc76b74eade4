// ferry::Channel and ferry::Connect: the client's side of a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry {

namespace internal {
class ClientEngine;
struct ChannelAccess;
}

// A connection to a server. Cheap to copy (copies share the connection: generated clients
// hold one by value); safe to use from many threads at once: calls are multiplexed by call
// id. The connection closes when the last copy, the last call or stream made on it, and the
// last message view read from it are gone.
class Channel {
 public:

  // The transport underneath: "shm".
  std::string_view transport() const;
  // The endpoint this channel was connected to.
  std::string_view endpoint() const;
  // False once the server has gone away; every call then fails with UNAVAILABLE.
  bool connected() const;
  // Payload bytes this process has copied for this channel so far (building or growing a
  // message across slot classes). Zero per call when messages are built with a size hint.
  uint64_t bytes_copied() const;

 private:
  friend struct internal::ChannelAccess;
  explicit Channel(std::shared_ptr<internal::ClientEngine> engine);

  std::shared_ptr<internal::ClientEngine> engine_;
};

// Connects to a server. Endpoints: "shm://name" (shared memory, rendezvous through the Unix
// socket <runtime dir>/name.sock; the runtime dir is $FERRY_RUNTIME_DIR, else
// $XDG_RUNTIME_DIR/ferry, else /tmp/ferry-<uid>).
// Returns INVALID_ARGUMENT for a malformed endpoint, UNAVAILABLE when nothing listens there,
// PERMISSION_DENIED or RESOURCE_EXHAUSTED when the server refuses, DEADLINE_EXCEEDED when the
// handshake outlasts options.connect_timeout.
Result<Channel> Connect(std::string_view endpoint, const ConnectOptions& options = {});

}  // namespace ferry
