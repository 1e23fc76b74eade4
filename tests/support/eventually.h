// Waiting, bounded, for what a test can observe but not block on (a server-side effect, a
// channel's state): looks again and again, yielding the CPU in between.
#pragma once

#include <chrono>
#include <thread>

namespace ferry::testing {

// True once `done()` holds; false if it still does not after `bound`.
template <class Done>
bool Eventually(Done done, std::chrono::steady_clock::duration bound = std::chrono::seconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace ferry::testing
