// Charging and waiting for the server-wide memory budget.
#include "call/memory_budget.h"

#include <algorithm>

namespace ferry::internal {

uint64_t MemoryBudget::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

bool MemoryBudget::contended() const {
  std::lock_guard lock(mutex_);
  return waiters_ > 0;
}

bool MemoryBudget::FitsLocked(uint64_t bytes, bool large) const {
  if (!bounded()) return true;
  const uint64_t cap = large ? large_limit() : limit_;
  return bytes <= cap && used_ <= cap - bytes;
}

bool MemoryBudget::Acquire(uint64_t bytes, bool large,
                           std::chrono::steady_clock::time_point deadline,
                           const std::atomic<bool>* abandon) {
  if (bounded() && bytes > (large ? large_limit() : limit_)) return false;
  {
    std::lock_guard lock(mutex_);
    if (FitsLocked(bytes, large)) {
      used_ += bytes;
      return true;
    }
    ++waiters_;  // from now on no pool keeps a buffer idle
  }
  // Idle buffers are the cheapest memory to give up: drop them before waiting for others.
  {
    std::lock_guard lock(reclaim_mutex_);
    for (Reclaimable* pool : reclaimable_) pool->DropIdle();
  }
  std::unique_lock lock(mutex_);
  bool granted = false;
  for (;;) {
    if (abandon != nullptr && abandon->load(std::memory_order_acquire)) break;
    if (FitsLocked(bytes, large)) {
      used_ += bytes;
      granted = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    freed_.wait_until(lock, deadline);
  }
  --waiters_;
  return granted;
}

bool MemoryBudget::TryAcquireIdle(uint64_t bytes, bool large) {
  std::lock_guard lock(mutex_);
  if (waiters_ > 0 || !FitsLocked(bytes, large)) return false;
  used_ += bytes;
  return true;
}

void MemoryBudget::Release(uint64_t bytes) {
  {
    std::lock_guard lock(mutex_);
    used_ -= std::min(used_, bytes);
  }
  freed_.notify_all();
}

void MemoryBudget::Wake() {
  { std::lock_guard lock(mutex_); }  // a waiter between its check and its wait sees the flag
  freed_.notify_all();
}

void MemoryBudget::AddReclaimable(Reclaimable* pool) {
  std::lock_guard lock(reclaim_mutex_);
  reclaimable_.push_back(pool);
}

void MemoryBudget::RemoveReclaimable(Reclaimable* pool) {
  std::lock_guard lock(reclaim_mutex_);
  std::erase(reclaimable_, pool);
}

}  // namespace ferry::internal
