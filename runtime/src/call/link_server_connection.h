// The server's half of the call engine, for one connection on any transport: the transport's
// handshake on the accepted socket (OpenLink, on a short-lived thread of its own), then one
// "reading role" that threads take turns holding. The thread holding it reads a request, runs
// a unary or oneway handler itself and sends the reply, then reads on: a call costs no
// hand-off between threads. A streaming call runs its handler on a thread of its own (bounded
// by max_streams_per_connection), so a stream that waits for its peer never holds the role.
//
// Which threads take turns depends on the link:
// - Polled links (shared memory: MessageLink::doorbells()) are served by the server's worker
//   pool (ServerLoop): a worker holds the role until the link would make it wait, then parks
//   the link and serves other connections. While it runs a handler the link stays parked, so
//   whatever the client sends meanwhile (a pipelined call, a Cancel, a stream's window) rings
//   the doorbell and another worker takes the role over: no timer, no thread per connection.
//   A handler that starts with messages already queued behind it (pipelined calls) is left to
//   the loop's one timer instead: past a short grace, a worker takes the role over (so fast
//   pipelined calls do not hand the role between workers for every call).
//   A stream's handler thread takes the free role itself when something has arrived after
//   its write, or before it waits (ReadOnStreamThread); after a write it leaves the link
//   unparked, so the client's window updates wake nobody. A call it reads is handed to a
//   worker; the timer parks the link again once the writer has not looked for a short grace.
// - Other links get `workers_per_connection` threads of their own. A handler that outlasts a
//   short grace wakes a standby worker (StandbyAlarm), which takes the role over; the alarm is
//   checked once per grace period, not armed per call. When every worker is in a handler
//   nobody reads, which pushes back on the client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "call/message_link.h"
#include "call/server_call.h"
#include "call/server_connection.h"
#include "os/standby_alarm.h"
#include "os/unix_socket.h"

namespace ferry::internal {

class LinkServerConnection final : public ServerConnection,
                                   public ServerLoop::Source,
                             public StreamThreadReads,
                                   public std::enable_shared_from_this<LinkServerConnection> {
 public:
  // Runs the transport's handshake on the accepted socket (on the connection's thread, bounded
  // by the handshake timeout) and returns the link calls travel on.
  using OpenLink = Result<std::shared_ptr<MessageLink>> (*)(int socket, const ConnectionEnv& env);

  LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env);
  ~LinkServerConnection() override;

  bool Start() override;
  void Stop() override;
  void Join() override;
  bool finished() const override { return finished_.load(std::memory_order_acquire); }
  // What the link copied (growth while building replies included).
  uint64_t bytes_copied() const override;
  void Drain() override;
  bool WaitDrained(std::chrono::steady_clock::time_point until) override;
  void Linger(std::chrono::steady_clock::time_point until) override;
  // A doorbell rang (or work was posted): on a worker of the server's loop.
  void OnReady(uint32_t tag) override;
  // A stream handler's look at the link (polled links only; see the top of this file).
  void ReadOnStreamThread(bool then_wait) override;

 private:
  enum class Role { kFree, kReading, kHandling };
  // What OnReady's tag says.
  enum Tag : uint32_t { kInbound, kLiveness, kFinish, kTakeover, kWriterCheck, kCloseCallbacks };

  void Serve();
  // Threads of its own: one of them.
  void WorkLoop(uint64_t me);
  // Polled: a worker's turn with the reading role `me`, until the link would make it wait.
  void ServeTurn(uint64_t me);
  // Polled: whether the connection is over and nobody is inside it any more; then it is to be
  // finished (once). With mutex_ held.
  bool ReadyToFinishLocked();
  // Polled: unwatches the link, joins the stream threads, reports the connection finished.
  void Finish();
  // The connection's last step, whoever serves it: disconnects the client, marks it finished
  // (Join returns) and tells the server.
  void ReportFinished();
  // Reads messages until one opens a unary or oneway call (stream messages, cancels and
  // windows are applied on the way, streams started). Null when the connection is over: the
  // client left, broke the protocol, or Stop() was called; or, with `would_wait` given (a
  // polled link), when nothing more is there (*would_wait is set then).
  // With `handed_off` (a stream's thread reading, see ReadOnStreamThread): only window
  // updates, stream messages and half-closes are applied; anything else is left in handoff_
  // for a worker's turn (*handed_off is set, null returned).
  std::shared_ptr<ServerCall> ReadCall(bool* would_wait = nullptr, bool* handed_off = nullptr);
  // Applies one message that is not a Request to its call. With mutex_ held; false when the
  // client broke the protocol (`why` says how).
  // A Cancel sets `cancelled`: its OnCancel callbacks are to run once the mutex is free.
  bool Route(InboundMessage& message, std::string& why, std::shared_ptr<ServerCall>& cancelled);
  // A Request: resolves it; returns the call when it is to run inline (unary, oneway).
  std::shared_ptr<ServerCall> Open(InboundMessage& message);
  void StartStream(std::shared_ptr<ServerCall> call);
  struct StreamThread;
  void RunStream(const std::shared_ptr<ServerCall>& call, StreamThread& self);
  size_t RunningStreamsLocked() const;
  // Runs a unary or oneway handler, calls `ran` (before anything is sent; it says whether this
  // thread still holds the reading role), then replies (unless the handler deferred its
  // reply: FinishDeferred sends it).
  void Handle(const std::shared_ptr<ServerCall>& call, const std::function<bool()>& ran);
  void FinishDeferred(ServerCall& call, Status status, OutgoingMessage reply);
  // `batch`: the link may hold the reply back (MessageLink::SendBatched).
  void SendReply(ServerCall& call, Status status, OutgoingMessage* reply, bool batch = false);
  // A call admitted by Open() has ended (its reply sent).
  void CallEnded();
  // A log line about this connection's client, with the fields the connection knows.
  LogRecord AboutPeer(std::string_view message, std::string_view method = {},
                      StatusCode status = StatusCode::kOk) const;
  // Counts an ended call of a resolved method in the server's MethodCounters.
  void Count(const ServerCall& call, StatusCode code) const;
  class Deferral;
  // Ends the connection: no more reading, running handlers see ctx.Cancelled(). With mutex_.
  // Their OnCancel callbacks may not run with the mutex held: the caller runs them once it
  // has let go (RunCloseCallbacks).
  void CloseLocked();
  // Runs the OnCancel callbacks of the calls CloseLocked cancelled. Without mutex_. On a
  // stream's own thread (reading inside its Write or Read) they are left to a worker
  // instead: a callback must never run inside the stream's own Write.
  void RunCloseCallbacks();

  Fd socket_;
  OpenLink open_link_;
  const ConnectionEnv env_;
  LogLimiter log_;  // lines about this client's misbehaviour
  // Who connected (SO_PEERCRED or the TCP address), taken when the connection was accepted.
  const std::shared_ptr<const Peer> peer_;
  std::atomic<bool> finished_{false};

  mutable std::mutex mutex_;  // guards the fields below
  bool stopping_ = false;
  Role role_ = Role::kFree;
  uint64_t role_owner_ = 0;  // the turn holding the role (threads of its own: the worker)
  bool standby_ = false;    // a worker sleeps on alarm_
  bool alarm_armed_ = false;
  std::chrono::steady_clock::time_point handler_started_;  // while role_ is kHandling
  std::chrono::steady_clock::time_point last_handler_end_;  // of the last inline handler
  std::condition_variable idle_;  // the other workers sleep here
  std::optional<StandbyAlarm> alarm_;
  std::shared_ptr<MessageLink> link_;  // set once the handshake is done
  // Open calls, for the messages that follow their Request.
  std::unordered_map<uint64_t, std::shared_ptr<ServerCall>> active_;
  std::vector<std::shared_ptr<ServerCall>> closed_calls_;  // see CloseLocked
  // Streaming handlers' threads; those that have finished are joined when the next stream
  // starts, the rest when the connection ends (never after: they use this object).
  struct StreamThread {
    std::thread thread;
    bool done = false;
  };
  std::list<StreamThread> streams_;
  bool draining_ = false;                 // new calls are refused
  uint32_t calls_running_ = 0;            // admitted calls whose reply has not gone out
  // Deferred replies being sent (FinishDeferred), which use what the server lends (env_):
  // the connection reports itself finished, and the server may go, only once none is.
  uint32_t deferred_sending_ = 0;
  std::condition_variable deferred_sent_;
  std::condition_variable drained_;       // calls_running_ fell to 0, or the reader ended

  // Polled: served by the server's worker pool.
  const std::shared_ptr<ServerLoop> loop_;
  bool polled_ = false;
  std::vector<std::pair<int, uint64_t>> watches_;  // descriptor and token, in loop_
  uint64_t turns_ = 0;      // turns taken (each gets the next number as role_owner_)
  bool rang_ = false;       // a doorbell rang while the role was held: look again
  uint32_t inside_ = 0;     // workers in a turn (reading, or in a handler)
  bool finishing_ = false;  // Finish() is under way or done
  bool takeover_armed_ = false;  // a kTakeover is due (see ServeTurn)
  // What a stream's thread read and left for the next worker's turn (ReadOnStreamThread):
  // a new call, a Cancel. Dropped if the connection stops first.
  std::optional<InboundMessage> handoff_;
  // A writer left the link unparked (pushes ring no doorbell) when it last read, then.
  bool writer_unparked_ = false;
  std::chrono::steady_clock::time_point writer_read_at_;
  bool writer_check_armed_ = false;  // a kWriterCheck is due
  std::condition_variable finished_cv_;

  std::vector<std::thread> workers_;
  std::thread thread_;  // the handshake, then (threads of its own) the first worker
};

}  // namespace ferry::internal
