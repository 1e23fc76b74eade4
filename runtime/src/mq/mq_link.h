// The mq:// transport's FrameLink: two Boost.Interprocess message_queues per connection (one
// per direction), frames split into queue messages, and a heartbeat to detect a dead peer.
//
// Liveness bounds (defaults: heartbeat 100 ms, so dead_after = max(5 heartbeats, 500 ms) =
// 500 ms; slice = 50 ms):
//   * Each side sends a heartbeat when it has sent nothing for `heartbeat`. Receive() fails
//     with UNAVAILABLE once nothing at all arrived for dead_after while it waited, i.e. at
//     most dead_after (500 ms) after the peer died, since its last message preceded its death.
//   * A peer SIGKILLed while holding a queue's mutex. In Boost 1.74, message_queue's
//     send/receive/timed_*/try_* all take that mutex with scoped_lock, i.e. a plain
//     pthread_mutex_lock on a non-robust process-shared mutex; the timeout of timed_* only
//     bounds the condition wait, and pthread_cond_timedwait re-locks the mutex without a bound.
//     (BOOST_INTERPROCESS_ENABLE_TIMEOUT_WHEN_LOCKING would not help: it is an ODR hazard and
//     leaves the re-lock inside the condition wait unbounded.) So a thread that calls into the
//     queue can be stuck forever. Only the link's two private threads (reader, writer) ever
//     call Boost; Send() and Receive() wait on process-local condition variables. Bound: the
//     caller gets UNAVAILABLE at most dead_after (500 ms) after the peer's death in Receive(),
//     and in Send() while this side is listening (its receive side not backed up by frames
//     the caller has not taken); otherwise Send() fails within one slice (50 ms) of the dead
//     peer being reaped (the pid its hello announced is watched, once /proc/<pid>/maps shows
//     it maps the queue), or at Shutdown(). Before the peer's hello arrives nothing is judged:
//     the handshake's deadline covers a peer that never opens the queues (Shutdown() then).
//   * Shutdown() and the destructor return within slice + 100 ms (150 ms): a private thread
//     that has not finished by then is stuck on the dead peer's mutex and is detached,
//     keeping the queue mapping (never the names) alive: one thread and one mapping leak per
//     such crash.
//   * Names: the client calls RemoveNames() right after Open() (both sides have then opened
//     the queues), so a crash after that leaves nothing in /dev/shm; SweepStaleQueues()
//     removes what a server that crashed before that point left behind.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/buffer_pool.h"
#include "core/frame_link.h"
#include "ferry/result.h"

namespace ferry::internal {

struct MqLinkOptions {
  // Size of one queue message and the number of messages a queue holds (Create() only; Open()
  // uses what the creator chose).
  uint32_t queue_message_bytes = 64 * 1024;
  uint32_t queue_depth = 16;
  // A received frame announcing more is DATA_LOSS; Send() refuses a larger one with
  // RESOURCE_EXHAUSTED.
  uint64_t max_message_bytes = 32 * 1024 * 1024 + 4096;
  std::chrono::milliseconds heartbeat{100};
  // Where received frames are allocated; null: the link makes its own pool.
  std::shared_ptr<BufferPool> pool;
};

// Queue names without the leading '/', e.g. "ferry-mq-4242-0-9f3a61c2-req".
struct MqQueueNames {
  std::string request;  // client -> server
  std::string reply;    // server -> client
};

class MqLink final : public FrameLink {
 public:
  // Server side: creates both queues (mode 0600) under fresh names. Sends on the reply queue,
  // receives on the request queue.
  static Result<std::unique_ptr<MqLink>> Create(const MqLinkOptions& options,
                                                MqQueueNames* names_out);
  // Client side: opens the queues the server created. Sends on the request queue, receives on
  // the reply queue.
  static Result<std::unique_ptr<MqLink>> Open(const MqQueueNames& names,
                                              const MqLinkOptions& options);

  // Unlinks both queue names (best effort, missing names ignored). Both processes keep their
  // mappings, so links already open keep working.
  static void RemoveQueues(const MqQueueNames& names);
  // Removes every /dev/shm/ferry-mq-<pid>-* whose <pid> is no longer alive (kill(pid, 0) fails
  // with ESRCH): what a server that crashed before both sides had opened its queues left
  // behind. Assumes /dev/shm is not shared with another pid namespace. Returns how many names
  // were removed.
  static size_t SweepStaleQueues();

  MqLink(const MqLink&) = delete;
  MqLink& operator=(const MqLink&) = delete;
  // Shuts down, then removes the names if RemoveNames() has not yet.
  ~MqLink() override;

  std::string_view name() const override { return "mq"; }
  Status Send(std::span<const Part> parts, std::chrono::steady_clock::time_point deadline) override;
  // Frames are read off the queue by the link's reader thread and handed over here (see the
  // top of this file for why no caller thread may call into the queue). At the deadline a
  // frame still arriving stays with the reader thread for the next Receive().
  Result<PooledBuffer> Receive(std::chrono::steady_clock::time_point deadline) override;
  void Shutdown() override;

  // Unlinks this link's queue names now (idempotent); the link keeps working.
  void RemoveNames();
  const MqQueueNames& queue_names() const;

  // Frame bytes this side copied: staging them into a queue message and pushing it into the
  // queue when sending; popping them out of the queue (and moving a staged chunk into the frame
  // buffer, when it could not be received in place) when receiving.
  uint64_t bytes_copied() const override;

 private:
  struct State;
  explicit MqLink(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace ferry::internal
