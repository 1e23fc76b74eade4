#include "shm/futex.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace ferry::shm {
namespace {

using namespace std::chrono_literals;

// Runs `body` on a fresh thread (SpinningCanHelp caches per thread) pinned to `cpu`.
template <class Body>
void OnThreadPinnedTo(int cpu, Body body) {
  std::thread thread([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
    body();
  });
  thread.join();
}

TEST(SpinningCanHelp, NotWhenPinnedToThePeersCpu) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs two CPUs";
  OnThreadPinnedTo(0, [] {
    EXPECT_FALSE(SpinningCanHelp(0));
    EXPECT_TRUE(SpinningCanHelp(1));
    EXPECT_TRUE(SpinningCanHelp(-1));  // unknown peer: try, the budget adapts
  });
}

TEST(FutexWait, ReturnsAtOnceWhenTheValueAlreadyDiffers) {
  std::atomic<uint32_t> word{1};
  const auto start = std::chrono::steady_clock::now();
  FutexWait(word, 0, std::chrono::minutes(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(FutexWait, WakesWhenAnotherThreadChangesTheWordAndWakes) {
  std::atomic<uint32_t> word{0};
  std::thread waker([&] {
    word.store(1);
    FutexWake(word, 1);
  });
  while (word.load() == 0) FutexWait(word, 0, 10ms);
  waker.join();
  EXPECT_EQ(word.load(), 1U);
}

}  // namespace
}  // namespace ferry::shm
