#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstdint>

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

}  // namespace
}  // namespace ferry::internal
