// Message buffers for socket and queue transports, recycled so that a steady stream of calls
// allocates nothing. A received message is read in place in its buffer; releasing the
// message's view gives the buffer back.
//
// Memory comes back to the system: buffers of 64 KiB and more are mapped on their own (mmap),
// so freeing one unmaps it whatever else the heap holds; a pool keeps idle at most 256 KiB of
// small buffers and `max_idle_bytes` in all, and frees large buffers left idle for
// kIdleLifetime; a pool that goes away (its connection closed) frees everything at once. A
// pool tied to a MemoryBudget charges it for the frames it receives and for what it keeps
// idle, and gives its idle buffers back when another frame waits for budget.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "call/memory_budget.h"
#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::internal {

class BufferPool;

// One buffer, at least 16-byte aligned. Move-only; returns itself to its pool when destroyed.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&& other) noexcept { *this = std::move(other); }
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;
  ~PooledBuffer();

  uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  // Bytes in use (set by whoever fills the buffer).
  size_t size() const { return size_; }
  void set_size(size_t size) { size_ = size; }
  // True while the buffer counts against its pool's budget.
  bool charged() const { return charged_; }

  // Hands the buffer over as a received message whose bytes are [offset, offset + length).
  IncomingMessage ToMessage(size_t offset, size_t length) &&;

 private:
  friend class BufferPool;
  void Return();

  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
  bool charged_ = false;
  std::shared_ptr<BufferPool> pool_;
};

// Thread-safe.
class BufferPool final : public MessageOwner,
                         public Reclaimable,
                         public std::enable_shared_from_this<BufferPool> {
 public:
  using Clock = std::chrono::steady_clock;
  // Buffers from this size up are mapped on their own and age out when idle.
  static constexpr size_t kLargeBytes = 64 * 1024;
  // What a pool keeps idle of smaller buffers, however long they stay idle.
  static constexpr size_t kSmallIdleBytes = 256 * 1024;
  // A large buffer idle this long is freed (by the next Take, Give or Trim).
  static constexpr std::chrono::milliseconds kIdleLifetime{1000};

  // `budget`, when given, must outlive the pool.
  static std::shared_ptr<BufferPool> Create(size_t max_idle_bytes = 64 * 1024 * 1024,
                                            std::shared_ptr<MemoryBudget> budget = nullptr);
  ~BufferPool();

  // A buffer of at least `size` bytes (its size() set to `size`) for building a message: not
  // charged to the budget while in use (a handler building a reply must never wait for one).
  // Throws std::bad_alloc when the system has no memory.
  PooledBuffer Take(size_t size);
  // A buffer for a frame of `size` bytes being received, charged to the budget: waits while
  // the budget is spent until `deadline` or until `*abandon` turns true (see WakeWaiters).
  // RESOURCE_EXHAUSTED when no budget came by then (or `size` exceeds all of it, or the
  // system has no memory); UNAVAILABLE when abandoned.
  Result<PooledBuffer> TakeCharged(size_t size, Clock::time_point deadline,
                                   const std::atomic<bool>* abandon);
  // Makes TakeCharged calls waiting for budget look at their `abandon` flag.
  void WakeWaiters();

  // Frees large buffers idle since before `now - kIdleLifetime`.
  void Trim(Clock::time_point now = Clock::now());
  // When the next large idle buffer ages out (time_point::max() when there is none).
  Clock::time_point next_trim() const;
  // Frees every idle buffer (the budget needs the memory, or a test asks).
  void DropIdle() override;

  // Idle bytes held for reuse.
  size_t idle_bytes() const;
  MemoryBudget* budget() const { return budget_.get(); }

  void ReleaseMessage(uint64_t token) override;

 private:
  friend class PooledBuffer;
  struct Idle {
    uint8_t* data;
    size_t capacity;
    bool charged;
    Clock::time_point since;
  };

  BufferPool(size_t max_idle_bytes, std::shared_ptr<MemoryBudget> budget)
      : max_idle_bytes_(max_idle_bytes), budget_(std::move(budget)) {}
  // An idle buffer that fits `size` (removed from the idle list), if any. With mutex_ held.
  bool ReuseLocked(size_t size, Idle* out);
  // Frees buffers idle too long, then takes an idle one of `size` bytes or more if there is.
  bool TakeIdle(size_t size, Idle* reused);
  // Removes idle buffers that `drop` selects into `freed`. With mutex_ held.
  template <class Drop>
  void CollectLocked(Drop drop, std::vector<Idle>* freed);
  // Removes large buffers idle since before `now - kIdleLifetime`. With mutex_ held.
  void CollectAgedLocked(Clock::time_point now, std::vector<Idle>* freed);
  void Free(const std::vector<Idle>& freed);
  void Give(uint8_t* data, size_t capacity, bool charged);

  const size_t max_idle_bytes_;
  // Shared: a pool (in a message a user still holds) may outlive the server.
  const std::shared_ptr<MemoryBudget> budget_;
  mutable std::mutex mutex_;  // before the budget's
  std::vector<Idle> idle_;    // most recently given last
  size_t idle_bytes_ = 0;
  size_t small_idle_bytes_ = 0;
  Clock::time_point next_trim_ = Clock::time_point::max();
};

}  // namespace ferry::internal
