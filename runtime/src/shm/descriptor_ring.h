// One direction of a shared-memory connection: a bounded MPMC queue of descriptors in shared
// memory, with an eventcount so an idle consumer sleeps on a futex.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "os/unix_socket.h"
#include "shm/futex.h"
#include "shm/layout.h"
#include "shm/peer_sync.h"

namespace ferry::shm {

class DescriptorRing {
 public:
  // `header` is followed in memory by `depth` RingCells. `depth` comes from the validated
  // private layout, never from the mapping (the peer could rewrite the shared copy).
  DescriptorRing(RingHeader* header, uint32_t depth)
      : header_(header), cells_(reinterpret_cast<RingCell*>(header + 1)), depth_(depth) {}

  static constexpr size_t BytesFor(uint32_t depth) {
    return sizeof(RingHeader) + sizeof(RingCell) * depth;
  }

  // `depth` must be a power of two. Not concurrent.
  static void Initialize(RingHeader* header, uint32_t depth) {
    header->depth = depth;
    auto* cells = reinterpret_cast<RingCell*>(header + 1);
    for (uint32_t i = 0; i < depth; ++i) cells[i].sequence.store(i, std::memory_order_relaxed);
    header->signal.store(0, std::memory_order_relaxed);
    header->waiters.store(0, std::memory_order_relaxed);
    header->building.store(0, std::memory_order_relaxed);
    header->released.store(0, std::memory_order_relaxed);
    header->stalled_producers.store(0, std::memory_order_relaxed);
    header->dequeue_pos.store(0, std::memory_order_relaxed);
    header->enqueue_pos.store(0, std::memory_order_release);
  }

  enum class PushResult {
    kPushed,
    // The ring is full, or the next cell is still claimed by a consumer that has not released
    // it (preempted between taking its descriptor and releasing the cell).
    kBusy,
    kCorrupt,  // the shared positions contradict each other (a broken peer): give up
  };

  // One attempt, never waits. `woke` (optional): whether the push had to wake a sleeping
  // consumer.
  PushResult TryPush(const Descriptor& descriptor, bool* woke = nullptr) {
    AnnounceRelease();
    const uint64_t mask = depth_ - 1;
    uint64_t pos = header_->enqueue_pos.load(std::memory_order_relaxed);
    for (;;) {
      RingCell& cell = cells_[pos & mask];
      const uint64_t seq = cell.sequence.load(std::memory_order_acquire);
      const int64_t lag = static_cast<int64_t>(seq - pos);
      if (lag == 0) {
        if (header_->enqueue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.descriptor = descriptor;
          cell.sequence.store(pos + 1, std::memory_order_release);
          break;
        }
      } else if (lag < 0) {
        return PushResult::kBusy;
      } else {
        // Another producer moved on; an unchanged position means a corrupt cell: refuse.
        const uint64_t now = header_->enqueue_pos.load(std::memory_order_relaxed);
        if (now == pos) return PushResult::kCorrupt;
        pos = now;
      }
    }
    header_->signal.fetch_add(1, std::memory_order_seq_cst);
    const bool woke_now = WakeConsumers();
    if (woke != nullptr) *woke = woke_now;
    return PushResult::kPushed;
  }

  // Pushes, sleeping (not spinning: the consumer we wait for may need this very CPU) while the
  // ring is full or a consumer still holds the next cell. Gives up with kBusy once `deadline`
  // passes or `stop()` turns true; sleeps are cut into slices so that a wake-up lost to a dying
  // peer costs little.
  template <class Clock, class Stop>
  PushResult Push(const Descriptor& descriptor, typename Clock::time_point deadline, Stop stop,
                  bool* woke = nullptr) {
    for (;;) {
      const uint32_t released = header_->released.load(std::memory_order_seq_cst);
      const PushResult result = TryPush(descriptor, woke);
      if (result != PushResult::kBusy) return result;
      const auto now = Clock::now();
      if (now >= deadline || stop()) return PushResult::kBusy;
      header_->stalled_producers.fetch_add(1, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with WakeStalledProducers
      if (NextCellClaimed()) {
        FutexWait(header_->released, released,
                  std::min<std::chrono::nanoseconds>(deadline - now, kStalledSlice));
      }
      header_->stalled_producers.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  // Wakes producers that sleep in Push because the cell a consumer held was not released yet.
  // Pop calls it after each release; it costs a fence and a load when nobody sleeps.
  void WakeStalledProducers() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the release before, the load after
    if (header_->stalled_producers.load(std::memory_order_relaxed) != 0) {
      header_->released.fetch_add(1, std::memory_order_seq_cst);
      FutexWake(header_->released, 1 << 30);
    }
  }

  // False when empty.
  bool Pop(Descriptor& out) {
    const uint64_t mask = depth_ - 1;
    uint64_t pos = header_->dequeue_pos.load(std::memory_order_relaxed);
    for (;;) {
      RingCell& cell = cells_[pos & mask];
      const uint64_t seq = cell.sequence.load(std::memory_order_acquire);
      const int64_t lag = static_cast<int64_t>(seq - (pos + 1));
      if (lag == 0) {
        if (header_->dequeue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = cell.descriptor;
          cell.sequence.store(pos + mask + 1, std::memory_order_release);
          WakeStalledProducers();
          AnnounceAcquire();
          return true;
        }
      } else if (lag < 0) {
        return false;
      } else {
        // Another consumer moved on; an unchanged position means a corrupt cell: empty.
        const uint64_t now = header_->dequeue_pos.load(std::memory_order_relaxed);
        if (now == pos) return false;
        pos = now;
      }
    }
  }

  bool Empty() const {
    const uint64_t pos = header_->dequeue_pos.load(std::memory_order_seq_cst);
    const RingCell& cell = cells_[pos & (depth_ - 1)];
    return cell.sequence.load(std::memory_order_seq_cst) != pos + 1;
  }

  // The signal value to pass to WaitForPush: read it before checking the ring, so a push (or a
  // Nudge) between the check and the sleep is never lost.
  uint32_t Signal() const { return header_->signal.load(std::memory_order_seq_cst); }

  // Sleeps until a push or Nudge after `signal` was read, at most `timeout`.
  void WaitForPush(uint32_t signal, std::chrono::nanoseconds timeout) {
    // Raised before the last look at the ring; the first push after it clears it and wakes us
    // (see WakeConsumers). Left raised after a timeout: that costs one needless wake-up later.
    header_->waiters.store(1, std::memory_order_seq_cst);
    if (Empty()) FutexWait(header_->signal, signal, timeout);
  }

  // Producer side: wake the consumer by writing 1 to eventfd `fd` instead of a futex wake-up
  // (a consumer that waits in epoll, with other rings, cannot wait on a futex). Process-local.
  void SetDoorbell(int fd) { doorbell_ = fd; }

  // Consumer side, before it waits elsewhere than WaitForPush (on the doorbell): the first
  // push from now on wakes it. False when the ring is not empty (read on instead).
  bool PrepareToWait() {
    header_->waiters.store(1, std::memory_order_seq_cst);
    return Empty();
  }
  // Consumer side: reading again, pushes need not wake it. (A push that raced with this may
  // still wake it once, for nothing.)
  void CancelWait() { header_->waiters.store(0, std::memory_order_relaxed); }

  // A producer starts building a message; with `wake_consumer` a sleeping consumer is woken
  // now, so that its wake-up overlaps with the building rather than following the push.
  // True when it woke one.
  bool BeginBuilding(bool wake_consumer) {
    header_->building.fetch_add(1, std::memory_order_seq_cst);
    if (wake_consumer && header_->waiters.load(std::memory_order_seq_cst) != 0) {
      header_->signal.fetch_add(1, std::memory_order_seq_cst);
      return WakeConsumers();
    }
    return false;
  }
  void EndBuilding() { header_->building.fetch_sub(1, std::memory_order_seq_cst); }
  bool SomeoneBuilding() const { return header_->building.load(std::memory_order_relaxed) != 0; }

  // Wakes every sleeper, consumers and stalled producers (used when the connection closes:
  // they then see it closed).
  void Nudge() {
    header_->signal.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(header_->signal, 1 << 30);
    header_->released.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(header_->released, 1 << 30);
  }

  uint32_t depth() const { return depth_; }

 private:
  static constexpr std::chrono::milliseconds kStalledSlice{50};

  // Wakes the consumers sleeping in WaitForPush, if any. Only the first producer to find
  // `waiters` raised pays for the system call: a burst of pushes to a sleeping consumer costs
  // one wake-up, not one per push.
  // True when it woke someone.
  bool WakeConsumers() {
    if (header_->waiters.load(std::memory_order_seq_cst) != 0 &&
        header_->waiters.exchange(0, std::memory_order_seq_cst) != 0) {
      if (doorbell_ >= 0) {
        internal::RingEventFd(doorbell_);
      } else {
        FutexWake(header_->signal, 1 << 30);
      }
      return true;
    }
    return false;
  }

  // Whether the cell a producer would fill next is still held by a consumer.
  bool NextCellClaimed() const {
    const uint64_t pos = header_->enqueue_pos.load(std::memory_order_seq_cst);
    const RingCell& cell = cells_[pos & (depth_ - 1)];
    return static_cast<int64_t>(cell.sequence.load(std::memory_order_seq_cst) - pos) < 0;
  }

  RingHeader* header_;
  RingCell* cells_;
  uint32_t depth_;
  int doorbell_ = -1;  // see SetDoorbell
};

}  // namespace ferry::shm
