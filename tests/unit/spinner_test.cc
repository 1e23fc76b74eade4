// LearnedSpinner: when spinning before a sleep is worth it, learned from how soon messages
// came; and the spin itself.
#include "shm/spinner.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ferry::shm {
namespace {

using namespace std::chrono_literals;
using Clock = LearnedSpinner::Clock;

bool Spins(const LearnedSpinner& spinner) { return spinner.spin_limit() > 0ns; }

TEST(LearnedSpinner, SpinsAtFirstAndWhileMessagesComeSoon) {
  LearnedSpinner spinner;
  EXPECT_TRUE(Spins(spinner));
  for (int i = 0; i < 100; ++i) spinner.Learn(2us);  // a caller calling back to back
  EXPECT_EQ(spinner.spin_limit(), LearnedSpinner::kLongLimit);
}

TEST(LearnedSpinner, AStreamWithAnOccasionalStallKeepsTheLongSpin) {
  LearnedSpinner spinner;
  for (int i = 0; i < 1000; ++i) {
    spinner.Learn(i % 64 == 63 ? 80us : Clock::duration::zero());  // a writer's pause
    ASSERT_EQ(spinner.spin_limit(), LearnedSpinner::kLongLimit) << "message " << i;
  }
}

TEST(LearnedSpinner, StopsWhenMessagesComeLaterThanSpinningPaysForAndResumesWhenTheyComeSoon) {
  LearnedSpinner spinner;
  int waits = 0;
  while (Spins(spinner) && waits < 100) {
    spinner.Learn(1ms);  // a caller calling a thousand times a second
    ++waits;
  }
  EXPECT_FALSE(Spins(spinner));
  EXPECT_LE(waits, 8) << "a few waits are enough to stop spinning";
  // Messages that were already there, or came within the limit, bring it back.
  waits = 0;
  while (!Spins(spinner) && waits < 100) {
    spinner.Learn(waits % 2 == 0 ? Clock::duration::zero() : LearnedSpinner::kLimit);
    ++waits;
  }
  EXPECT_TRUE(Spins(spinner));
  EXPECT_LE(waits, 8);
}

TEST(LearnedSpinner, MostlySoonKeepsSpinningMostlyLateDoesNot) {
  LearnedSpinner mostly_soon;
  LearnedSpinner mostly_late;
  for (int i = 0; i < 200; ++i) {
    const bool odd_one = i % 4 == 0;
    mostly_soon.Learn(odd_one ? 5ms : 1us);
    mostly_late.Learn(odd_one ? 1us : 5ms);
  }
  EXPECT_TRUE(Spins(mostly_soon));
  EXPECT_FALSE(Spins(mostly_late));
}

TEST(LearnedSpinner, SpinReturnsAsSoonAsReadyAndGivesUpAtItsTime) {
  int calls = 0;
  auto third = [&] { return ++calls == 3; };
  EXPECT_TRUE(LearnedSpinner::Spin(third, Clock::now() + 1min));
  EXPECT_EQ(calls, 3);
  auto never = [] { return false; };
  const auto start = Clock::now();
  EXPECT_FALSE(LearnedSpinner::Spin(never, start + 1ms));
  EXPECT_GE(Clock::now() - start, 1ms);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(LearnedSpinner, APreemptedSpinStopsSpinningForAWhile) {
  LearnedSpinner spinner;
  for (int i = 0; i < 100; ++i) spinner.Learn(2us);
  ASSERT_TRUE(Spins(spinner));
  // The clock jumps between two looks, as when the scheduler took the CPU mid-spin (here the
  // check itself takes that long, once).
  int looks = 0;
  auto ready = [&] {
    if (++looks == 1) {
      const Clock::time_point until = Clock::now() + 2 * LearnedSpinner::kPreempted;
      while (Clock::now() < until) {
      }
    }
    return false;
  };
  EXPECT_FALSE(spinner.SpinOnce(ready, Clock::now() + 4 * LearnedSpinner::kPreempted));
  EXPECT_FALSE(Spins(spinner)) << "runnable threads outnumber CPUs: no spinning";
  for (uint32_t i = 0; i < LearnedSpinner::kQuietWaits; ++i) {
    ASSERT_FALSE(Spins(spinner)) << "wait " << i;
    spinner.Learn(2us);
  }
  EXPECT_TRUE(Spins(spinner)) << "and it spins again afterwards";
}

}  // namespace
}  // namespace ferry::shm
