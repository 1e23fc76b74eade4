// A shared-memory connection as a MessageLink: messages are built in slots of the segment and
// announced by a descriptor on the ring of their direction (client -> server, server ->
// client); the rendezvous socket stays open as the liveness channel.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "call/message_link.h"
#include "call/server_connection.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "os/log.h"
#include "os/unix_socket.h"
#include "shm/futex.h"
#include "shm/segment.h"
#include "shm/spinner.h"

namespace ferry::internal {

class ShmLink final : public MessageLink {
 public:
  using Clock = std::chrono::steady_clock;

  // Over a segment both sides have mapped, once the handshake on `socket` is done. The client
  // owns its socket; `peer` names the server in errors ("the server at shm://x").
  // `busy_poll`: Receive spins for as long as it waits (where spinning can help at all)
  // instead of sleeping; the default learns when spinning pays.
  // `doorbell` (an eventfd shared with the server, or none): how the client wakes a server
  // that waits for requests.
  static Result<std::unique_ptr<ShmLink>> ForClient(std::shared_ptr<shm::Segment> segment,
                                                    Fd socket, Fd doorbell, std::string peer,
                                                    std::chrono::milliseconds slot_wait,
                                                    bool busy_poll);
  // The server borrows `socket`, which must outlive the link. `log` (which must outlive the
  // link too) gets one line per misbehaviour of the client. With a `doorbell` the server waits
  // for requests on it rather than on the ring's futex. `polled`: no thread watches the peer;
  // the owner waits on doorbells() and calls CheckPeer() (needs a doorbell).
  static Result<std::unique_ptr<ShmLink>> ForServer(std::shared_ptr<shm::Segment> segment,
                                                    int socket, Fd doorbell,
                                                    std::chrono::milliseconds slot_wait,
                                                    bool busy_poll, LogLimiter* log, bool polled);
  // Shuts the link down (the peer notices) and joins the liveness thread. Messages still
  // alive keep the segment mapped.
  ~ShmLink() override;
  ShmLink(const ShmLink&) = delete;
  ShmLink& operator=(const ShmLink&) = delete;

  std::string_view name() const override { return "shm"; }
  OutgoingMessage NewMessage(size_t size_hint) override;
  bool Owns(const OutgoingMessage& message) const override;
  Status Send(const CallHeader& header, OutgoingMessage* payload,
              Clock::time_point deadline) override;
  Result<InboundMessage> Receive(Clock::time_point deadline) override;
  void AllowSpinning(bool allowed) override {
    spinning_allowed_.store(allowed, std::memory_order_relaxed);
  }
  Doorbells doorbells() const override;
  Result<InboundMessage> Poll() override;
  bool InboundReady() const override { return !inbound_.Empty(); }
  bool Park() override;
  void Unpark() override;
  void CheckPeer() override;
  void Shutdown() override;
  bool connected() const override;
  uint64_t bytes_copied() const override;
  uint64_t max_message_bytes() const override;

  // The mapping this side reads and writes (for tests that play a hostile peer).
  shm::Segment& segment();

 private:
  enum class Role { kClient, kServer };
  // What outlives the link while messages of it are alive.
  struct Shared;

  ShmLink(Role role, std::shared_ptr<shm::Segment> segment, Fd owned_socket, int socket,
          Fd doorbell, std::string peer, std::chrono::milliseconds slot_wait, bool busy_poll,
          LogLimiter* log);
  static Result<std::unique_ptr<ShmLink>> Start(std::unique_ptr<ShmLink> link);
  // Receive and Poll: the next message, sleeping for it only if `may_sleep`.
  Result<InboundMessage> Take(Clock::time_point deadline, bool may_sleep);
  // Server with a doorbell: sleeps on it until a push, at most `timeout`.
  void WaitForDoorbell(Clock::duration timeout);

  // Blocks on the socket until the peer goes away (or Shutdown), then closes the link.
  void WatchPeer();
  // Marks the link closed and wakes every thread waiting on it or on the peer.
  void Close();
  Status Gone() const;
  // Fills `d` with the payload's place, the payload then belonging to the descriptor.
  Status Place(OutgoingMessage& payload, Clock::time_point deadline, shm::Descriptor& d);
  // Puts a status message in a slot, if one frees up soon; kNoIndex otherwise.
  void PlaceStatusMessage(const std::string& text, shm::Descriptor& d);
  // Until `pop` succeeds: spins (if it pays, see LearnedSpinner), then sleeps on the inbound
  // ring. `*slept`: whether it slept.
  template <class Pop>
  Status AwaitDescriptor(Pop& pop, Clock::time_point deadline, bool may_sleep, bool* slept);
  // Server, where spinning can help: spins while the client is building a message (bounded
  // by kBuildingSpinLimit). True when `pop` succeeded meanwhile.
  template <class Pop>
  bool AwaitMessageBeingBuilt(Pop& pop, Clock::time_point deadline);
  Result<InboundMessage> Accept(const shm::Descriptor& d);
  void LogPeer(std::string_view line);

  const Role role_;
  const std::shared_ptr<Shared> shared_;
  shm::Segment& segment_;
  shm::DescriptorRing& outbound_;
  shm::DescriptorRing& inbound_;
  Fd owned_socket_;   // the client's socket
  const int socket_;  // the rendezvous socket, owned or borrowed
  // The eventfd the client rings for a server waiting for requests (both sides hold it).
  const Fd doorbell_;
  const std::string peer_;
  const std::chrono::milliseconds slot_wait_;
  const bool busy_poll_;
  LogLimiter* const log_;  // server only
  std::atomic<bool> shut_down_{false};
  std::atomic<int> peer_cpu_{-1};  // where the peer last sent from: a spinning hint
  std::atomic<bool> spinning_allowed_{true};  // see AllowSpinning
  // Receive's, which runs in one thread at a time.
  shm::LearnedSpinner spinner_;
  // How late (ns) this side noticed the last message it slept for: the next message it sends
  // is stamped that much earlier, so that the peer learns how soon an answer comes when this
  // side is awake, not how long this side takes to wake up. (Without it, two sides that
  // once both slept would each see the other's wake-up latency and never spin again.)
  std::atomic<int64_t> wake_delay_ns_{0};
  // Client: our last message had to wake the server, and nothing has come back since: its
  // answer will take at least a wake-up, which a spin would not bridge.
  std::atomic<bool> woke_peer_{false};
  // Set when Receive starts spinning for a message being built: the spin ends there
  // (kBuildingSpinLimit later) and resumes only once the ring's signal moves (a push, or a new
  // message announced) or a message is taken (Take resets it then).
  std::optional<Clock::time_point> building_spin_until_;
  // When a polled server last parked the link and nothing has come since: the wait that the
  // next message ends began then.
  std::optional<Clock::time_point> parked_since_;
  std::thread watcher_;  // none when polled
};

// Client: connects to the rendezvous at `socket_path` (of "shm://name", or a socket server's
// upgrade offer) and runs the handshake; `endpoint_text` is what the user asked for.
// PERMISSION_DENIED when that server runs as another user; FAILED_PRECONDITION for another
// layout version.
Result<std::unique_ptr<MessageLink>> ConnectShmLink(const std::string& socket_path,
                                                    std::string_view endpoint_text,
                                                    const ConnectOptions& options,
                                                    std::chrono::steady_clock::time_point deadline);
// The same handshake on a socket already connected to `socket_path`.
Result<std::unique_ptr<MessageLink>> OpenShmClientLink(
    Fd socket, const std::string& socket_path, std::string_view endpoint_text,
    const ConnectOptions& options, std::chrono::steady_clock::time_point deadline);
// Server: the handshake on an accepted rendezvous socket, which the caller keeps open for the
// link's whole life (the link only borrows it), bounded by the handshake timeout.
Result<std::shared_ptr<MessageLink>> OpenShmServerLink(int socket, const ConnectionEnv& env);

// A connection for a client accepted on a shared-memory rendezvous (UnixListener's factory).
std::shared_ptr<ServerConnection> NewShmConnection(Fd client, ConnectionEnv env);

}  // namespace ferry::internal
