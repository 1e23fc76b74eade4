// The threads a server serves its polled connections on: one epoll set of connections'
// doorbells and a pool of workers sized by cores, whatever the number of connections.
//
// A worker waits in epoll_wait for a doorbell, then serves that connection (reads what came,
// runs unary handlers inline, replies) until it would have to wait again, and goes back to
// epoll_wait. Doorbells are edge-triggered: a connection is announced once per ring, and the
// connection itself decides which worker reads it (see LinkServerConnection).
//
// A handler may block. So that the others are still served, the pool keeps one worker out of
// handlers: when the last one enters a handler, another thread joins (up to max_workers);
// threads beyond the base count leave after a while without work. Threads therefore grow
// with handlers that block at the same time, never with connections.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ferry/result.h"
#include "os/unix_socket.h"

namespace ferry::internal {

class ServerLoop {
 public:
  // What a doorbell belongs to. OnReady runs on a worker; `tag` is the one given to Watch.
  class Source {
   public:
    virtual ~Source() = default;
    virtual void OnReady(uint32_t tag) = 0;
  };

  // `workers`: the base count (at least 1); `max_workers`: the most threads that may run at
  // once while handlers block. `on_worker_start` runs first on every worker thread.
  static Result<std::shared_ptr<ServerLoop>> Create(unsigned workers, unsigned max_workers,
                                                    std::function<void()> on_worker_start);
  // Stop()s.
  ~ServerLoop();
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  // Calls source->OnReady(tag) on a worker whenever `fd` turns readable (edge-triggered: once
  // per change). The returned token unwatches it; `fd` must stay open until then.
  Result<uint64_t> Watch(int fd, uint32_t tag, std::weak_ptr<Source> source);
  // After it returns no new OnReady for this watch starts (one may still be running).
  void Unwatch(int fd, uint64_t token);
  // Runs source->OnReady(tag) on a worker soon (or never, once stopped: false then).
  bool Post(std::weak_ptr<Source> source, uint32_t tag);
  // Post()s at `when`, from the loop's one timer thread (which sleeps while nothing is due).
  void PostAt(std::weak_ptr<Source> source, uint32_t tag,
              std::chrono::steady_clock::time_point when);

  // Around a handler run on a worker: keeps a worker free for the other connections.
  void EnterHandler();
  void LeaveHandler();
  // Whether some worker waits for work (so that this one may spin on its connection a little
  // without keeping anyone waiting).
  bool HasIdleWorker() const { return idle_.load(std::memory_order_relaxed) > 0; }

  // Ends and joins every worker; idempotent. Never from a worker.
  void Stop();
  // Worker threads alive now.
  size_t threads() const;

 private:
  struct Watched {
    std::weak_ptr<Source> source;
    uint32_t tag;
  };
  struct Worker {
    std::thread thread;
    bool done = false;
  };

  ServerLoop(Fd epoll, Fd wake, unsigned workers, unsigned max_workers,
             std::function<void()> on_worker_start);
  // With mutex_ held.
  bool SpawnLocked();
  void Run(Worker& self, bool extra);
  void RunTimer();
  void RingWake();

  const Fd epoll_;
  const Fd wake_;  // eventfd in the epoll set: posted work, or Stop
  const unsigned base_workers_;
  const unsigned max_workers_;
  const std::function<void()> on_worker_start_;

  std::atomic<int> idle_{0};          // workers in epoll_wait
  std::atomic<int> in_handlers_{0};   // workers inside a handler
  std::atomic<int> alive_{0};         // workers running

  mutable std::mutex mutex_;  // guards the fields below
  bool stopping_ = false;
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, Watched> watched_;
  std::deque<Watched> posted_;
  std::list<Worker> workers_;
  std::multimap<std::chrono::steady_clock::time_point, Watched> timed_;
  std::condition_variable timer_cv_;
  std::thread timer_;
};

}  // namespace ferry::internal
