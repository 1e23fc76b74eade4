// ferry::Channel and ferry::Connect: the client's side of a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "ferry/options.h"
#include "ferry/result.h"

namespace ferry {

namespace internal {
class ClientChannel;
struct ChannelAccess;
}

// Where a channel's connection stands, in the manner of gRPC's connectivity states.
enum class ChannelState {
  kReady,       // connected: calls go out
  kIdle,        // the connection was lost and no call has tried since: the next call connects
  kConnecting,  // a call is connecting again (others wait for it, by their deadlines)
  kFailed,      // connecting failed: calls fail at once until the backoff has passed (then
                // kIdle), or for good when ReconnectOptions::enabled is false
};
// "READY", "IDLE", "CONNECTING", "FAILED".
std::string_view ToString(ChannelState state);

// A connection to a server. Cheap to copy (copies share the connection: generated clients
// hold one by value); safe to use from many threads at once: calls are multiplexed by call
// id. The connection closes when the last copy, the last call or stream made on it, and the
// last message view read from it are gone.
// When the server goes away, the calls in flight fail with UNAVAILABLE and the next call
// connects again (ConnectOptions::reconnect), moving to shared memory again where it may.
// Calls and streams stay on the connection they were made on.
class Channel {
 public:

  // The transport underneath now: "shm", "unix", "tcp", "mq".
  std::string_view transport() const;
  // The endpoint this channel was connected to.
  std::string_view endpoint() const;
  // Where the connection stands. Looking may cost a system call (a socket's hang-up).
  ChannelState state() const;
  // state() == kReady.
  bool connected() const;
  // Payload bytes this process has copied for this channel so far (building or growing a
  // message across slot classes; a request built before the channel connected again, copied
  // to the new connection). Zero per call when messages are built with a size hint.
  uint64_t bytes_copied() const;

 private:
  friend struct internal::ChannelAccess;
  explicit Channel(std::shared_ptr<internal::ClientChannel> core);

  std::shared_ptr<internal::ClientChannel> core_;
};

// Connects to a server. Endpoints: "shm://name" (shared memory, rendezvous through the Unix
// socket <runtime dir>/name.sock; the runtime dir is $FERRY_RUNTIME_DIR, else
// $XDG_RUNTIME_DIR/ferry, else /tmp/ferry-<uid>).
// Returns INVALID_ARGUMENT for a malformed endpoint, UNAVAILABLE when nothing listens there,
// PERMISSION_DENIED or RESOURCE_EXHAUSTED when the server refuses, DEADLINE_EXCEEDED when the
// handshake outlasts options.connect_timeout.
Result<Channel> Connect(std::string_view endpoint, const ConnectOptions& options = {});

}  // namespace ferry
