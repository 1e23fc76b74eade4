// A lock-free stack of indices living in shared memory: the free list of each slot class.
// Both processes push and pop; an ABA tag in the head keeps it correct.
#pragma once

#include <atomic>
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

  // Fills a fresh stack with 0..capacity-1 (0 on top). Not concurrent.
  static void Initialize(IndexStackHeader* header, uint32_t capacity) {
    header->capacity = capacity;
    auto* next = reinterpret_cast<std::atomic<uint32_t>*>(header + 1);
    for (uint32_t i = 0; i < capacity; ++i) {
      next[i].store(i + 1 < capacity ? i + 1 : kNoIndex, std::memory_order_relaxed);
    }
    header->epoch.store(0, std::memory_order_relaxed);
    header->waiters.store(0, std::memory_order_relaxed);
    header->head.store(capacity > 0 ? 0 : kNoIndex, std::memory_order_release);
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

  // `index` must be below capacity().
  void Push(uint32_t index) {
    AnnounceRelease();
    uint64_t head = header_->head.load(std::memory_order_relaxed);
    for (;;) {
      next_[index].store(static_cast<uint32_t>(head), std::memory_order_relaxed);
      const uint64_t replacement = ((head >> 32) + 1) << 32 | index;
      if (header_->head.compare_exchange_weak(head, replacement, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
        break;
      }
    }
    header_->epoch.fetch_add(1, std::memory_order_seq_cst);
    if (header_->waiters.load(std::memory_order_seq_cst) != 0) FutexWake(header_->epoch, 1);
  }

  // Sleeps until something may have been pushed, at most `timeout`.
  void WaitForPush(std::chrono::nanoseconds timeout) {
    const uint32_t epoch = header_->epoch.load(std::memory_order_seq_cst);
    header_->waiters.fetch_add(1, std::memory_order_seq_cst);
    if (static_cast<uint32_t>(header_->head.load(std::memory_order_seq_cst)) == kNoIndex) {
      FutexWait(header_->epoch, epoch, timeout);
    }
    header_->waiters.fetch_sub(1, std::memory_order_seq_cst);
  }

  uint32_t capacity() const { return capacity_; }

 private:
  IndexStackHeader* header_;
  std::atomic<uint32_t>* next_;
  uint32_t capacity_;
};

}  // namespace ferry::shm
