// A server-wide bound on the memory of socket connections: bytes of frames being received
// plus buffers kept idle in pools (ServerOptions::memory_budget_bytes). A connection whose
// next frame does not fit waits (stops reading its socket, which pushes back on the peer)
// instead of growing the process; idle pooled buffers are given back first. Large frames may
// use only 7/8 of the budget: the rest is kept for small ones, so that peers holding large
// frames half-sent cannot stall every other client's ordinary calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace ferry::internal {

// Memory that can be handed back on demand (a BufferPool's idle buffers).
class Reclaimable {
 public:
  // Frees whatever is idle, releasing its charge to the budget. Called without the budget's
  // lock held.
  virtual void DropIdle() = 0;

 protected:
  ~Reclaimable() = default;
};

class MemoryBudget {
 public:
  // `limit` 0: no bound (every acquisition succeeds).
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  uint64_t limit() const { return limit_; }
  bool bounded() const { return limit_ != 0; }
  // What large charges may add up to: the limit less the part kept for small ones.
  uint64_t large_limit() const { return limit_ - limit_ / 8; }
  // Bytes charged now.
  uint64_t used() const;
  // True while a thread waits in Acquire.
  bool contended() const;

  // Charges `bytes`, waiting (asleep, no polling) until they fit: within large_limit() when
  // `large`, else within limit(). Idle buffers of every registered pool are dropped first
  // when they do not fit. False when `deadline` passes, when `*abandon` is true (looked at
  // on Wake()), or at once when `bytes` exceed what could ever fit.
  bool Acquire(uint64_t bytes, bool large, std::chrono::steady_clock::time_point deadline,
               const std::atomic<bool>* abandon);
  // Charges `bytes` for a buffer kept idle, if they fit now (as for Acquire) and nobody
  // waits in Acquire: idle buffers never take memory a frame is waiting for.
  bool TryAcquireIdle(uint64_t bytes, bool large);
  void Release(uint64_t bytes);
  // Makes waiters look at their `abandon` flag again.
  void Wake();

  // Pools whose idle memory Acquire may reclaim; a pool removes itself before it goes away.
  void AddReclaimable(Reclaimable* pool);
  void RemoveReclaimable(Reclaimable* pool);

 private:
  bool FitsLocked(uint64_t bytes, bool large) const;

  const uint64_t limit_;
  mutable std::mutex mutex_;  // after reclaim_mutex_ and any pool's mutex
  std::condition_variable freed_;
  uint64_t used_ = 0;
  uint32_t waiters_ = 0;  // threads inside Acquire

  std::mutex reclaim_mutex_;  // held while calling pools: none may go away meanwhile
  std::vector<Reclaimable*> reclaimable_;
};

}  // namespace ferry::internal
