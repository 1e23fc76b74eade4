// The server's end of one socket or queue connection: a handshake on the accepted socket,
// then `workers_per_connection` threads that share one "reading role". The thread holding it
// reads a request, runs the handler itself and sends the reply, then reads on: a call costs
// no hand-off between threads. A handler that outlasts a short grace wakes a standby worker
// (StandbyAlarm), which takes the role over so the connection keeps being read (further
// calls, Cancel frames); the alarm is checked once per grace period, not armed per call. When every worker is in a handler nobody reads, which pushes back
// on the client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "call/frame_link.h"
#include "call/server_connection.h"
#include "os/standby_alarm.h"
#include "os/unix_socket.h"

namespace ferry::internal {

class LinkServerConnection final : public ServerConnection,
                                   public std::enable_shared_from_this<LinkServerConnection> {
 public:
  // Runs the transport's handshake on the accepted socket (on the connection's thread, bounded
  // by the handshake timeout) and returns the link calls travel on.
  using OpenLink = Result<std::unique_ptr<FrameLink>> (*)(int socket, const ConnectionEnv& env);

  LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env);
  ~LinkServerConnection() override;

  bool Start() override;
  void Stop() override;
  void Join() override;
  bool finished() const override { return finished_.load(std::memory_order_acquire); }
  // Growth copies while building replies, plus what the link copied.
  uint64_t bytes_copied() const override;

 private:
  struct Request {
    PooledBuffer frame;
    uint64_t call_id = 0;
    uint32_t method_id = 0;
    uint8_t kind = 0;
    size_t payload_offset = 0;
    size_t payload_size = 0;
    std::chrono::steady_clock::time_point deadline;
    std::atomic<bool> cancelled{false};
  };

  enum class Role { kFree, kReading, kHandling };

  void Serve();
  void WorkLoop(int me);
  // Reads frames until one is a request (Cancel frames are applied on the way). False when
  // the connection is over: the client left, broke the protocol, or Stop() was called.
  bool ReadRequest(const std::shared_ptr<Request>& request);
  // Runs the handler, calls `ran` (before anything is sent), then sends the reply.
  void Handle(Request& request, const std::function<void()>& ran);
  void SendReply(uint64_t call_id, const Status& status, OutgoingMessage* reply);
  // Ends the connection: no more reading, running handlers see ctx.Cancelled(). With mutex_.
  void CloseLocked();

  Fd socket_;
  OpenLink open_link_;
  const ConnectionEnv env_;
  // Replies are built in its buffers: the link's own pool when it has one (set before the
  // workers start).
  std::shared_ptr<BufferPool> send_pool_;
  LogLimiter log_;  // lines about this client's misbehaviour
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> growth_copied_{0};

  mutable std::mutex mutex_;  // guards the fields below
  bool stopping_ = false;
  Role role_ = Role::kFree;
  int role_owner_ = -1;     // the worker holding the role
  bool standby_ = false;    // a worker sleeps on alarm_
  bool alarm_armed_ = false;
  std::chrono::steady_clock::time_point handler_started_;  // while role_ is kHandling
  std::condition_variable idle_;  // the other workers sleep here
  std::optional<StandbyAlarm> alarm_;
  std::unique_ptr<FrameLink> link_;  // set once the handshake is done
  // Running calls, for Cancel frames.
  std::unordered_map<uint64_t, std::shared_ptr<Request>> active_;

  std::vector<std::thread> workers_;
  std::thread thread_;
};

}  // namespace ferry::internal
