// One sender at a time, waiting for a turn at most until a deadline. (std::timed_mutex would
// do, but its try_lock_until is pthread_mutex_clocklock, which GCC 12's ThreadSanitizer does
// not intercept: every unlock then reads as a bug.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace ferry::internal {

class SendGate {
 public:
  // True once it is the caller's turn; false when `deadline` passed first.
  bool Enter(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    const auto free = [this] { return !busy_; };
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      turn_.wait(lock, free);
    } else if (!turn_.wait_until(lock, deadline, free)) {
      return false;
    }
    busy_ = true;
    return true;
  }
  // The turn if it is free now; never waits.
  bool TryEnter() {
    std::lock_guard lock(mutex_);
    if (busy_) return false;
    busy_ = true;
    return true;
  }
  void Leave() {
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    turn_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable turn_;
  bool busy_ = false;
};

// Leaves the gate when it goes out of scope (or earlier, with Leave()).
class SendTurn {
 public:
  explicit SendTurn(SendGate& gate) : gate_(&gate) {}
  SendTurn(const SendTurn&) = delete;
  SendTurn& operator=(const SendTurn&) = delete;
  ~SendTurn() { Leave(); }
  void Leave() {
    if (gate_ != nullptr) std::exchange(gate_, nullptr)->Leave();
  }
  // Hands the turn to whoever will Leave() the returned gate (another thread finishing the
  // send).
  SendGate* Release() { return std::exchange(gate_, nullptr); }

 private:
  SendGate* gate_;
};

}  // namespace ferry::internal
