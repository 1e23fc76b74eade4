// The mq:// transport's FrameLink: two Boost.Interprocess message_queues per connection (one
// per direction), frames split into queue messages, and liveness from the rendezvous socket,
// the peer's process and a heartbeat.
//
// Liveness (defaults: heartbeat 100 ms, dead_after = max(5 heartbeats, 500 ms) = 500 ms,
// slice 50 ms, probes of the socket and process at most every 10 ms):
//   * The rendezvous socket stays open on both sides for the link's life (`peer_socket`). It
//     hangs up when the peer shuts its link down or dies, and SO_PEERCRED names the peer's
//     process, watched through a pidfd (zombies count as gone). Either is noticed within a
//     slice by the reader thread, or by a waiting Send()/Receive(): UNAVAILABLE well inside
//     500 ms, hello or no hello. A clean Shutdown() also sends a goodbye message between frames,
//     noticed at once.
//   * Silence: each side sends a heartbeat when it has sent nothing for `heartbeat`. A peer
//     whose process is known to be alive (socket open, pid not exited) is presumed dead only
//     after 10 s of silence while this side listened (a SIGSTOPped or starved peer is alive).
//     Without a socket, the pid its hello announced is watched once /proc/<pid>/maps shows
//     that it maps the queue; a peer nothing can watch is presumed dead after dead_after.
//   * A peer killed inside a queue operation. Boost 1.74's message_queue takes a non-robust
//     process-shared mutex with a plain pthread_mutex_lock (BOOST_INTERPROCESS_ENABLE_
//     TIMEOUT_WHEN_LOCKING does nothing for the POSIX mutex in 1.74, and the re-lock inside
//     the condition wait has no bound anyway), so a thread calling into the queue can wait for
//     that mutex, or a condition's internal lock, for ever. Only the link's two private
//     threads (reader, writer) ever call Boost; Send() and Receive() wait on process-local
//     condition variables. Once the peer's process is gone, the link releases what it left
//     locked, through a second mapping of the queue's header (Boost 1.74's mq_hdr_t, glibc's
//     pthread layout; checked at open, else never touched): the names are gone by then, so
//     the one private thread that uses a queue is its only user. The stuck thread then leaves
//     Boost, sees the link down and exits.
//   * Shutdown() and the destructor return within slice + 100 ms (150 ms). A private thread
//     still in Boost then waits for a lock its peer holds while alive but not running
//     (stopped mid-operation): it is detached and a janitor thread (running only while it has
//     such threads) releases the locks once that peer's process is gone, so no thread stays
//     stuck beyond the peer's life and no mapping outlives it.
//   * Names: the client calls RemoveNames() right after Open() (both sides have then opened
//     the queues), so a crash after that leaves nothing in /dev/shm; SweepStaleQueues()
//     removes what a server that crashed before that point left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "call/buffer_pool.h"
#include "call/frame_link.h"
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
  // The rendezvous socket to the peer, or -1. The link keeps a duplicate open for its life:
  // the peer watches it (it hangs up when this side shuts down or dies) and this side watches
  // the peer's end and process (SO_PEERCRED) likewise.
  int peer_socket = -1;
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
  // What the reader thread has found (within a slice of it happening): broken, the socket
  // hung up, the peer's process gone.
  bool PeerGone() const override;

  // Unlinks this link's queue names now (idempotent); the link keeps working.
  void RemoveNames();
  const MqQueueNames& queue_names() const;
  // The peer's process once known (its credentials on the socket, or its hello once
  // /proc shows it maps the queue), else 0. Only a known peer's death lets the link release
  // queue locks it left held.
  pid_t peer_pid() const;

  // Frame bytes this side copied: staging them into a queue message and pushing it into the
  // queue when sending; popping them out of the queue (and moving a staged chunk into the frame
  // buffer, when it could not be received in place) when receiving.
  uint64_t bytes_copied() const override;

  // Private threads of every link in this process still running, detached ones included.
  static size_t RunningThreads();

 private:
  struct State;
  explicit MqLink(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace ferry::internal
