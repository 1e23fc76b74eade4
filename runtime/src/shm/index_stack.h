// A lock-free stack of indices living in shared memory: a free list of slots. Both processes
// may push and pop; an ABA tag in the head keeps it correct. Its header also holds a futex
// word for threads waiting for a push (see WaitForPush).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shm/futex.h"
#include "shm/layout.h"
#include "shm/peer_sync.h"

namespace ferry::shm {

class IndexStack {
 public:
  // `header` is followed in memory by `capacity` links. `capacity` comes from the validated
  // private layout, never from the mapping (the peer could rewrite the shared copy).
  IndexStack(IndexStackHeader* header, uint32_t capacity)
      : header_(header),
        next_(reinterpret_cast<std::atomic<uint32_t>*>(header + 1)),
        capacity_(capacity) {}

  static constexpr size_t BytesFor(uint32_t capacity) {
    return sizeof(IndexStackHeader) + sizeof(std::atomic<uint32_t>) * capacity;
  }

  enum class Fill { kEmpty, kFull };
  // Lays out a fresh stack, empty or holding 0..capacity-1 (0 on top). Not concurrent.
  static void Initialize(IndexStackHeader* header, uint32_t capacity, Fill fill = Fill::kFull) {
    header->capacity = capacity;
    auto* next = reinterpret_cast<std::atomic<uint32_t>*>(header + 1);
    for (uint32_t i = 0; i < capacity; ++i) {
      next[i].store(i + 1 < capacity ? i + 1 : kNoIndex, std::memory_order_relaxed);
    }
    header->epoch.store(0, std::memory_order_relaxed);
    header->waiters.store(0, std::memory_order_relaxed);
    const bool full = fill == Fill::kFull && capacity > 0;
    header->head.store(full ? 0 : kNoIndex, std::memory_order_release);
  }

  // kNoIndex when empty.
  uint32_t Pop() {
    uint64_t head = header_->head.load(std::memory_order_acquire);
    for (;;) {
      const uint32_t top = static_cast<uint32_t>(head);
      if (top == kNoIndex || top >= capacity_) return kNoIndex;
      uint32_t next = next_[top].load(std::memory_order_relaxed);
      if (next != kNoIndex && next >= capacity_) next = kNoIndex;  // a corrupt link ends the list
      const uint64_t replacement = ((head >> 32) + 1) << 32 | next;
      if (header_->head.compare_exchange_weak(head, replacement, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
        AnnounceAcquire();
        return top;
      }
    }
  }

  // `index` must be below capacity(). Wakes nobody: a pusher calls NotifyPush on the stack
  // whose waiters may want this index.
  void Push(uint32_t index) {
    AnnounceRelease();
    uint64_t head = header_->head.load(std::memory_order_relaxed);
    for (;;) {
      next_[index].store(static_cast<uint32_t>(head), std::memory_order_relaxed);
      const uint64_t replacement = ((head >> 32) + 1) << 32 | index;
      // seq_cst: ordered before the `waiters` load in a NotifyPush that follows.
      if (header_->head.compare_exchange_weak(head, replacement, std::memory_order_seq_cst,
                                              std::memory_order_relaxed)) {
        break;
      }
    }
  }

  bool Empty() const {
    const uint32_t top = static_cast<uint32_t>(header_->head.load(std::memory_order_seq_cst));
    return top == kNoIndex || top >= capacity_;
  }

  // After a Push (here or on a stack that `still_empty` in WaitForPush looks at): wakes a
  // thread sleeping in WaitForPush, if any. Costs a load of a line nobody writes while
  // nobody waits.
  void NotifyPush() {
    if (header_->waiters.load(std::memory_order_seq_cst) == 0) return;
    header_->epoch.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(header_->epoch, 1);
  }

  // Sleeps until a NotifyPush on this stack, at most `timeout`, unless `still_empty()`
  // (which looks at every stack whose pushes notify this one) finds something already.
  template <class StillEmpty>
  void WaitForPush(std::chrono::nanoseconds timeout, StillEmpty still_empty) {
    const uint32_t epoch = header_->epoch.load(std::memory_order_seq_cst);
    header_->waiters.fetch_add(1, std::memory_order_seq_cst);
    if (still_empty()) FutexWait(header_->epoch, epoch, timeout);
    header_->waiters.fetch_sub(1, std::memory_order_seq_cst);
  }

  uint32_t capacity() const { return capacity_; }

 private:
  IndexStackHeader* header_;
  std::atomic<uint32_t>* next_;
  uint32_t capacity_;
};

}  // namespace ferry::shm
