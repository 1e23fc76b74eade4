#include "call/buffer_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "support/sanitizers.h"

namespace ferry::internal {
namespace {

TEST(BufferPool, AReleasedBufferIsReusedForTheSameSizeClass) {
  auto pool = BufferPool::Create();
  const uint8_t* first = nullptr;
  {
    PooledBuffer buffer = pool->Take(5000);
    first = buffer.data();
    EXPECT_EQ(buffer.size(), 5000U);
    EXPECT_GE(buffer.capacity(), 5000U);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 16, 0U);
  }
  EXPECT_EQ(pool->idle_bytes(), 8192U);
  PooledBuffer again = pool->Take(6000);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(pool->idle_bytes(), 0U);
}

TEST(BufferPool, AMessageViewGivesItsBufferBackWhenDestroyed) {
  auto pool = BufferPool::Create();
  PooledBuffer buffer = pool->Take(100);
  buffer.data()[8] = 42;
  {
    IncomingMessage message = std::move(buffer).ToMessage(8, 1);
    EXPECT_EQ(message.size(), 1U);
    EXPECT_EQ(message.data()[0], 42);
    EXPECT_EQ(pool->idle_bytes(), 0U);
  }
  EXPECT_EQ(pool->idle_bytes(), 4096U);
}

TEST(BufferPool, IdleMemoryStaysWithinItsBound) {
  auto pool = BufferPool::Create(/*max_idle_bytes=*/16384);
  {
    PooledBuffer a = pool->Take(8192);
    PooledBuffer b = pool->Take(8192);
    PooledBuffer c = pool->Take(8192);
  }
  EXPECT_EQ(pool->idle_bytes(), 16384U);
}

// The process's resident memory, from /proc/self/status.
uint64_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

constexpr size_t kMiB = 1024 * 1024;
using Clock = std::chrono::steady_clock;

// Waits (bounded) until `done` holds; for another thread's state that has no event to wait on.
template <class Done>
bool Eventually(Done done) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(BufferPool, SmallIdleBuffersAreCappedWhateverTheTotalBound) {
  auto pool = BufferPool::Create();
  {
    std::vector<PooledBuffer> many;
    for (int i = 0; i < 200; ++i) many.push_back(pool->Take(4096));
  }
  EXPECT_EQ(pool->idle_bytes(), BufferPool::kSmallIdleBytes);
}

TEST(BufferPool, LargeIdleBuffersAreFreedOnceIdleForTheirLifetime) {
  auto pool = BufferPool::Create();
  const Clock::time_point before = Clock::now();
  { PooledBuffer large = pool->Take(3 * kMiB); }
  { PooledBuffer small = pool->Take(100); }
  const Clock::time_point after = Clock::now();
  EXPECT_EQ(pool->idle_bytes(), 3 * kMiB + 4096);
  EXPECT_LE(pool->next_trim(), after + BufferPool::kIdleLifetime);
  pool->Trim(before + BufferPool::kIdleLifetime - std::chrono::milliseconds(1));
  EXPECT_EQ(pool->idle_bytes(), 3 * kMiB + 4096);  // not idle long enough yet
  pool->Trim(after + BufferPool::kIdleLifetime);
  EXPECT_EQ(pool->idle_bytes(), 4096U);  // small buffers stay
  EXPECT_EQ(pool->next_trim(), Clock::time_point::max());
}

TEST(BufferPool, AReusedLargeBufferIsTheSmallestThatFits) {
  auto pool = BufferPool::Create();
  uint8_t* two = nullptr;
  {
    PooledBuffer a = pool->Take(2 * kMiB);
    PooledBuffer b = pool->Take(8 * kMiB);
    two = a.data();
  }
  PooledBuffer again = pool->Take(2 * kMiB - 100);
  EXPECT_EQ(again.data(), two);
  // A large buffer is charged and mapped in 64 KiB steps, not rounded to a power of two.
  PooledBuffer odd = pool->Take(32 * kMiB + 8192);
  EXPECT_EQ(odd.capacity(), 32 * kMiB + 64 * 1024);
}

TEST(BufferPool, FreeingALargeBufferGivesItsMemoryBackToTheSystem) {
  if (ferry::testing::kSanitized) GTEST_SKIP() << "RSS means nothing under a sanitizer's shadow memory";
  auto pool = BufferPool::Create();
  const uint64_t before = ResidentBytes();
  {
    PooledBuffer buffer = pool->Take(64 * kMiB);
    std::memset(buffer.data(), 1, buffer.size());
    EXPECT_GE(ResidentBytes(), before + 60 * kMiB);
  }
  EXPECT_EQ(pool->idle_bytes(), 64 * kMiB);
  pool->DropIdle();
  EXPECT_LT(ResidentBytes(), before + 4 * kMiB);
}

TEST(BufferPool, APoolThatGoesAwayFreesItsIdleBuffersAtOnce) {
  if (ferry::testing::kSanitized) GTEST_SKIP() << "RSS means nothing under a sanitizer's shadow memory";
  const uint64_t before = ResidentBytes();
  {
    auto pool = BufferPool::Create();
    PooledBuffer buffer = pool->Take(32 * kMiB);
    std::memset(buffer.data(), 1, buffer.size());
  }
  EXPECT_LT(ResidentBytes(), before + 4 * kMiB);
}

TEST(MemoryBudget, ReceivedFramesAndIdleBuffersAreChargedBuffersBeingBuiltAreNot) {
  auto budget = std::make_shared<MemoryBudget>(64 * kMiB);
  auto pool = BufferPool::Create(64 * kMiB, budget);
  {
    Result<PooledBuffer> frame = pool->TakeCharged(kMiB, Clock::time_point::max(), nullptr);
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_TRUE(frame->charged());
    EXPECT_EQ(budget->used(), kMiB);
  }
  EXPECT_EQ(budget->used(), kMiB);  // idle now, still charged
  {
    PooledBuffer reply = pool->Take(kMiB);  // reuses the idle buffer, uncharged while built
    EXPECT_FALSE(reply.charged());
    EXPECT_EQ(budget->used(), 0U);
  }
  EXPECT_EQ(budget->used(), kMiB);  // idle again
  pool->DropIdle();
  EXPECT_EQ(budget->used(), 0U);
}

TEST(MemoryBudget, AFrameThatDoesNotFitWaitsForMemoryAndGetsItWhenFreed) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);  // 14 MiB for large frames
  auto pool = BufferPool::Create(64 * kMiB, budget);
  Result<PooledBuffer> first = pool->TakeCharged(10 * kMiB, Clock::time_point::max(), nullptr);
  ASSERT_TRUE(first.ok());
  // Bounded: no memory by the deadline is RESOURCE_EXHAUSTED.
  Result<PooledBuffer> late =
      pool->TakeCharged(8 * kMiB, Clock::now() + std::chrono::milliseconds(20), nullptr);
  EXPECT_EQ(late.status().code(), StatusCode::kResourceExhausted) << late.status();
  // Small frames still fit in the part kept for them.
  Result<PooledBuffer> small = pool->TakeCharged(4096, Clock::time_point::max(), nullptr);
  EXPECT_TRUE(small.ok());
  Result<PooledBuffer> second = Status::Unknown("not yet");
  std::thread waiter([&] {
    second = pool->TakeCharged(8 * kMiB, Clock::now() + std::chrono::seconds(30), nullptr);
  });
  ASSERT_TRUE(Eventually([&] { return budget->contended(); }));
  EXPECT_EQ(pool->idle_bytes(), 0U);
  *first = PooledBuffer();  // freed, not kept idle: a frame waits for the memory
  waiter.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_LE(budget->used(), budget->limit());
  EXPECT_EQ(pool->idle_bytes(), 0U);
}

TEST(MemoryBudget, IdleBuffersOfOtherPoolsAreGivenUpForAFrame) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  auto idle_pool = BufferPool::Create(64 * kMiB, budget);
  auto pool = BufferPool::Create(64 * kMiB, budget);
  {
    Result<PooledBuffer> frame =
        idle_pool->TakeCharged(12 * kMiB, Clock::time_point::max(), nullptr);
  }
  EXPECT_EQ(idle_pool->idle_bytes(), 12 * kMiB);
  Result<PooledBuffer> frame =
      pool->TakeCharged(8 * kMiB, Clock::now() + std::chrono::seconds(30), nullptr);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(idle_pool->idle_bytes(), 0U);
  EXPECT_EQ(budget->used(), 8 * kMiB);
}

TEST(MemoryBudget, AFrameLargerThanTheBudgetFailsAtOnce) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  auto pool = BufferPool::Create(64 * kMiB, budget);
  const Clock::time_point start = Clock::now();
  Result<PooledBuffer> frame =
      pool->TakeCharged(15 * kMiB, start + std::chrono::seconds(30), nullptr);
  EXPECT_EQ(frame.status().code(), StatusCode::kResourceExhausted);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(budget->used(), 0U);
}

TEST(MemoryBudget, AWaitEndsWhenItsLinkShutsDown) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  auto pool = BufferPool::Create(64 * kMiB, budget);
  Result<PooledBuffer> first = pool->TakeCharged(12 * kMiB, Clock::time_point::max(), nullptr);
  std::atomic<bool> shut_down{false};
  Result<PooledBuffer> second = Status::Unknown("not yet");
  std::thread waiter(
      [&] { second = pool->TakeCharged(8 * kMiB, Clock::time_point::max(), &shut_down); });
  ASSERT_TRUE(Eventually([&] { return budget->contended(); }));
  shut_down = true;
  pool->WakeWaiters();
  waiter.join();
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status();
  EXPECT_EQ(budget->used(), 12 * kMiB);
}

TEST(MemoryBudget, ABufferBuiltWhileAFrameWaitsIsFreedNotKeptIdle) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  auto pool = BufferPool::Create(64 * kMiB, budget);
  Result<PooledBuffer> first = pool->TakeCharged(12 * kMiB, Clock::time_point::max(), nullptr);
  PooledBuffer reply = pool->Take(kMiB);
  std::atomic<bool> shut_down{false};
  std::thread waiter(
      [&] { (void)pool->TakeCharged(8 * kMiB, Clock::time_point::max(), &shut_down); });
  ASSERT_TRUE(Eventually([&] { return budget->contended(); }));
  reply = PooledBuffer();
  EXPECT_EQ(pool->idle_bytes(), 0U);
  shut_down = true;
  pool->WakeWaiters();
  waiter.join();
}

}  // namespace
}  // namespace ferry::internal
