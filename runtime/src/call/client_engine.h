// The client's half of the call engine: every call rule on the client side, over any
// MessageLink. Calls are multiplexed by call id; there is no reader thread for synchronous
// use: a waiting caller takes the receiving role, reads messages and hands other calls theirs
// until its own arrives, then passes the role on (a lone caller reads its own reply, with no
// thread hand-off). Asynchronous calls get a completion thread, started on first use, which
// reads while replies are owed that nobody may wait for (asynchronous unary calls, Then
// callbacks, cancelled streams) or callers wait for capacity (without spinning: the caller's
// threads may need the CPU),
// expires their deadlines and runs their callbacks; callers waiting meanwhile are woken only
// when their own call moves.
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
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "call/message_link.h"
#include "ferry/options.h"
#include "ferry/service.h"
#include "ferry/stream.h"

namespace ferry::internal {

class ClientEngine;

// The state of one call. Guarded by its engine's mutex.
class ClientCall : public std::enable_shared_from_this<ClientCall> {
 public:
  using Clock = std::chrono::steady_clock;

  std::shared_ptr<ClientEngine> engine;  // null for a call that never opened
  uint64_t id = 0;
  MethodKind kind = MethodKind::kUnary;
  Clock::time_point deadline = Clock::time_point::max();
  bool is_async = false;  // opened by Open(): the completion thread reads and expires for it

  bool ended = false;
  Status status;
  IncomingMessage reply;
  bool reply_taken = false;

  // Server -> client stream messages received, not yet read; and those read since the last
  // Window we sent.
  std::deque<IncomingMessage> inbound;
  uint64_t inbound_bytes = 0;
  uint32_t read_unacked_messages = 0;
  uint64_t read_unacked_bytes = 0;

  // Client -> server: the server's window and what we wrote that it has not acknowledged.
  bool writes_done = false;
  bool window_known = false;
  uint32_t window_messages = 0;
  uint64_t window_bytes = 0;
  uint32_t unacked_messages = 0;
  uint64_t unacked_bytes = 0;

  // Ended here (Cancel, deadline) while the server may still send for it: its id stays known
  // until the server's Reply, and what arrives for it meanwhile is dropped.
  bool zombie = false;

  std::condition_variable changed;
  std::function<void()> then;
  std::shared_ptr<ClientCall> self;  // keeps a heap call alive while the engine knows it
};

class ClientEngine final : public std::enable_shared_from_this<ClientEngine> {
 public:
  using Clock = std::chrono::steady_clock;

  // Takes over a link whose handshake is done. `endpoint`: what the user connected to.
  static std::shared_ptr<ClientEngine> Start(std::shared_ptr<MessageLink> link,
                                             std::string endpoint, const ConnectOptions& options);
  // Shuts the link down (the server then drops the connection) and stops the completion thread.
  ~ClientEngine();
  ClientEngine(const ClientEngine&) = delete;
  ClientEngine& operator=(const ClientEngine&) = delete;

  std::string_view name() const { return link_->name(); }
  const std::string& endpoint() const { return endpoint_; }
  bool connected() const { return !closed_.load(std::memory_order_acquire); }
  // Whether a call made now may go on this connection: not closed, and the peer not known to
  // be gone (MessageLink::PeerGone, a poll() on a socket).
  bool Usable() const { return connected() && !link_->PeerGone(); }
  uint64_t bytes_copied() const {
    return link_->bytes_copied() + adopted_bytes_.load(std::memory_order_relaxed);
  }
  OutgoingMessage NewMessage(size_t size_hint) { return link_->NewMessage(size_hint); }
  // `message` as this connection can send it: itself when this link made it (or when it is
  // not finished: sending says why), else a copy in this link's memory (a request built
  // before its channel reconnected), counted in bytes_copied().
  OutgoingMessage Adopt(OutgoingMessage message);

  // A blocking unary or oneway call. With a `signature`, the first call of the method on this
  // connection first has the server judge its layout (CheckSchema).
  Result<IncomingMessage> Call(uint32_t method_id, MethodKind kind, OutgoingMessage request,
                               const CallOptions& options,
                               const MethodSignature* signature = nullptr);
  // Opens a call of any kind without waiting for it (`request`: null for client and bidi
  // streaming). A call that cannot be opened comes back ended with its status.
  std::shared_ptr<ClientCall> Open(uint32_t method_id, MethodKind kind, OutgoingMessage* request,
                                   const CallOptions& options,
                                   const MethodSignature* signature = nullptr);

  // ClientCallHandle's operations.
  Status Write(ClientCall& call, OutgoingMessage message);
  Status WritesDone(ClientCall& call);
  std::optional<IncomingMessage> Read(ClientCall& call);
  Result<IncomingMessage> Finish(ClientCall& call);
  bool Wait(ClientCall& call, Clock::time_point deadline);
  void Then(ClientCall& call, std::function<void()> on_end);
  // Ends `call` with `why` unless it has ended; tells the server (Cancel) if it was open.
  void End(ClientCall& call, Status why);

 private:
  // Before the first call of `method` (as `kind`) on this connection: asks the server whether
  // it can serve it (schema_check.h) and remembers the verdict, which every later call of the
  // method gets. A check that could not be made (deadline, connection lost) is not remembered.
  Status CheckSchema(const MethodSignature& method, MethodKind kind, const CallOptions& options);
  // CheckSchema unless the verdict is known; `lock` (on mutex_) is let go meanwhile.
  Status SchemaVerdictLocked(const MethodSignature* method, MethodKind kind,
                             const CallOptions& options, std::unique_lock<std::mutex>& lock);
  ClientEngine(std::shared_ptr<MessageLink> link, std::string endpoint,
               const ConnectOptions& options);

  // Admits one more open call (ConnectOptions::max_calls_in_flight). With mutex_ held.
  Status Admit(const CallOptions& options, Clock::time_point deadline,
               std::unique_lock<std::mutex>& lock);
  // Registers `call` under a fresh id. With mutex_ held.
  void Register(ClientCall& call);
  // Sends a frame of `call` (`batch`: MessageLink::SendBatched), mapping a failure to what the
  // caller should see.
  Status SendFor(ClientCall& call, const CallHeader& header, OutgoingMessage* payload,
                 bool batch = false);
  // Waits until done() or `deadline`, reading messages while nobody else does. With mutex_.
  template <class Done>
  bool Await(std::condition_variable& cv, Done done, Clock::time_point deadline,
             std::unique_lock<std::mutex>& lock);
  // Holds the receiving role for one Receive (bounded by `deadline` and a short slice); `spin`:
  // whether the link may spin for it (a caller waiting for its own call: yes).
  void ReadOnce(Clock::time_point deadline, bool spin, std::unique_lock<std::mutex>& lock);
  // With mutex_ held and nobody reading: wakes whoever should read next (the first waiting
  // caller, else the completion thread while asynchronous calls are open).
  void PassReadingRoleLocked();
  // More callers wait than twice the CPUs: the completion thread reads for them all, rather
  // than the role passing from caller to caller (each pass wakes a thread that then waits
  // for a CPU while replies pile up). With mutex_ held.
  bool CrowdedLocked() const;
  // Whether the completion thread reads although no caller may be waiting: replies are owed
  // that nobody may wait for, or a caller waits for capacity (calls end as their replies are
  // read). With mutex_ held.
  bool CompletionReadsLocked() const;
  // Applies one inbound message to its call. With mutex_ held; false when the server broke the
  // protocol.
  bool Route(InboundMessage message);
  // Wakes whoever waits for `call` to move: at once, or (a synchronous call, while ReadOnce
  // routes) once ReadOnce has let the mutex go. With mutex_ held.
  void NotifyLocked(ClientCall& call);
  enum class EndKind {
    kByServer,  // its Reply came: what the server sent before it is still to be read
    kHere,      // the client gave up (Cancel, deadline, a bad message): unread messages go
    kUnsent,    // the server never had it
  };
  // Marks `call` ended with `status`. With mutex_ held; the returned reference (the call's
  // self) must be dropped after unlocking.
  std::shared_ptr<ClientCall> EndLocked(ClientCall& call, Status status, EndKind kind);
  // The server's Reply to a call ended here has come: the id is forgotten. With mutex_ held.
  void ForgetZombieLocked(ClientCall& call);
  // Keeps owed_replies_ and next_expiry_ right around a change of `call`'s state.
  void UnaccountLocked(const ClientCall& call);
  void AccountLocked(const ClientCall& call);
  void FailAllLocked(const Status& why);
  // Ends `call` here with `why` (its deadline passed), unlocks, tells the server; returns the
  // call's status.
  Status GiveUp(ClientCall& call, Status why, std::unique_lock<std::mutex>& lock);
  void SendWindow(ClientCall& call, uint32_t messages, uint64_t bytes);
  void SendCancel(uint64_t id);
  void CompletionLoop();
  void EnsureCompletionThread();  // with mutex_ held

  const std::shared_ptr<MessageLink> link_;
  const std::string endpoint_;
  const ConnectOptions options_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> adopted_bytes_{0};

  std::mutex mutex_;
  // Held across a schema check: the first calls of a method wait for its verdict.
  std::mutex schema_mutex_;
  std::unordered_map<uint32_t, Status> schema_verdicts_;  // under mutex_
  uint64_t next_call_id_ = 1;
  uint32_t open_calls_ = 0;  // registered calls (oneway excluded)
  uint32_t async_calls_ = 0;
  // Open calls whose Reply nobody may be waiting for: asynchronous unary calls (a caller may
  // never call Get) and zombies. While there are any, the completion thread reads.
  uint32_t owed_replies_ = 0;
  uint32_t capacity_waiters_ = 0;  // callers in Admit waiting for max_calls_in_flight
  // No asynchronous call's deadline passes before this (the completion thread's next scan).
  Clock::time_point next_expiry_ = Clock::time_point::max();
  std::condition_variable capacity_;
  bool reading_ = false;
  // ReadOnce's: the messages read in with the first, and the synchronous calls to wake once
  // the mutex is free (while deferring_wakes_).
  std::vector<Result<InboundMessage>> burst_;
  bool deferring_wakes_ = false;
  std::vector<std::shared_ptr<ClientCall>> woken_;
  std::vector<std::condition_variable*> waiting_;  // callers that may take the receiving role
  std::unordered_map<uint64_t, ClientCall*> calls_;
  Status closed_status_;

  std::condition_variable completion_wake_;
  std::deque<std::function<void()>> completions_;
  bool stopping_ = false;
  std::thread completion_thread_;
};

}  // namespace ferry::internal
