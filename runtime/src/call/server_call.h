// The server's state of one call: what its handler sees (CallContext, and for streams the
// reader and writer behind ServerReader/ServerWriter/ServerStream), and what the connection's
// reader delivers to it (stream messages, half-close, window updates, cancellation).
// Everything mutable is guarded by the connection's mutex, passed in.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "call/message_link.h"
#include "ferry/call_context.h"
#include "ferry/options.h"
#include "ferry/service.h"
#include "ferry/stream.h"

namespace ferry::internal {

// A connection whose link a stream's handler thread may read itself (polled links: see
// LinkServerConnection::ReadOnStreamThread). A fast stream then takes the client's window
// updates and messages on its own thread, instead of a pool worker being woken for them.
class StreamThreadReads {
 public:
  virtual ~StreamThreadReads() = default;
  // Reads what has arrived, unless another thread holds the reading role. `then_wait`: the
  // caller is about to wait (for room, or for a message), so what arrives next must wake a
  // worker; otherwise the link may be left unparked while the stream writes on.
  virtual void ReadOnStreamThread(bool then_wait) = 0;
};

class ServerCall final : public CallContext, public ServerStreamPort {
 public:
  using Clock = std::chrono::steady_clock;

  ServerCall(std::mutex& mutex, std::shared_ptr<MessageLink> link, const StreamWindow& window,
             const CallHeader& header, IncomingMessage request);

  // CallContext.
  std::string_view method() const override;
  const Peer& peer() const override { return peer_ != nullptr ? *peer_ : CallContext::peer(); }
  Clock::time_point Deadline() const override { return deadline_; }
  bool Cancelled() const override;
  bool WaitForCancel(Clock::time_point until) const override;
  void OnCancel(std::function<void()> callback) override;

  // ServerStreamPort.
  OutgoingMessage NewMessage(size_t size_hint) override { return link_->NewMessage(size_hint); }
  Status Write(OutgoingMessage message) override;
  std::optional<IncomingMessage> Read() override;
  void Reject(Status why) override;

  // Who the connection serves (shared by its calls). Set before any handler runs.
  void SetPeer(std::shared_ptr<const Peer> peer) { peer_ = std::move(peer); }

  uint64_t id() const { return id_; }
  // When the request was read (the start of the latency a server counts).
  Clock::time_point started() const { return started_; }
  uint8_t kind() const { return kind_; }
  uint32_t method_id() const { return method_id_; }
  const IncomingMessage& request() const { return request_; }
  void DropRequest() { request_ = IncomingMessage(); }
  void SetMethod(const ServiceBinding::Method* method) { method_ = method; }
  // `reads` outlives the call's handler (the connection joins its stream threads).
  void SetStreamThreadReads(StreamThreadReads* reads) { stream_reads_ = reads; }
  // The method Resolve() found (set before any handler runs).
  const ServiceBinding::Method& resolved() const { return *method_; }
  bool client_writes() const;

  // The connection's reader, with the mutex held. Deliver: false when the client wrote past
  // the window it was given (it broke the protocol).
  bool Deliver(IncomingMessage message);
  void HalfClose();
  // The handler reads no more (it returned with its reply deferred): unread messages go back.
  void StopReadingLocked();
  void Acknowledge(const CallHeader& window);
  // Marks the call cancelled. Its OnCancel callbacks are then run by RunCancelCallbacks.
  void CancelLocked();
  // After CancelLocked, without the mutex: runs the OnCancel callbacks registered so far,
  // unless the call has concluded. Conclude waits for callbacks running on another thread, so
  // none runs after the call has ended (one may end it: send its deferred reply).
  void RunCancelCallbacks();

  // The window this side grants the client's writes (sent when a client stream starts).
  CallHeader InitialWindow() const;
  // What the client is told: the handler's status unless the call was rejected, cancelled or
  // outran its deadline meanwhile. Takes the mutex; afterwards OnCancel callbacks never run.
  Status Conclude(Status handler_status);

 private:
  void SendAck(uint32_t messages, uint64_t bytes);
  // Before a wait for `ready` (with `lock` held): reads what the link already holds on this
  // thread (StreamThreadReads), unless `ready` already holds.
  template <class Ready>
  void ReadLinkBeforeWaiting(std::unique_lock<std::mutex>& lock, Ready ready);

  std::mutex& mutex_;
  const std::shared_ptr<MessageLink> link_;
  const StreamWindow window_;  // what we grant the client
  const uint64_t id_;
  const uint32_t method_id_;
  const uint8_t kind_;
  const Clock::time_point deadline_;
  IncomingMessage request_;
  const ServiceBinding::Method* method_ = nullptr;
  std::shared_ptr<const Peer> peer_;
  const Clock::time_point started_ = Clock::now();
  StreamThreadReads* stream_reads_ = nullptr;
  std::atomic<bool> cancelled_{false};

  // Guarded by mutex_.
  mutable std::condition_variable changed_;
  bool concluded_ = false;
  Status rejected_;
  std::vector<std::function<void()>> on_cancel_;
  uint32_t callbacks_running_ = 0;    // RunCancelCallbacks in progress
  std::thread::id callbacks_thread_;  // where (Conclude does not wait for itself)
  std::deque<IncomingMessage> inbound_;
  uint64_t inbound_bytes_ = 0;
  bool half_closed_ = false;
  uint32_t read_unacked_messages_ = 0;
  uint64_t read_unacked_bytes_ = 0;
  // Our writes: the client's window (from its Request) and what it has not acknowledged.
  uint32_t peer_window_messages_ = 0;
  uint64_t peer_window_bytes_ = 0;
  uint32_t unacked_messages_ = 0;
  uint64_t unacked_bytes_ = 0;
};

}  // namespace ferry::internal
