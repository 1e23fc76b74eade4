#include "shm/descriptor_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace ferry::shm {
namespace {

// A ring in ordinary memory: the algorithm does not care which mapping it lives in.
class LocalRing {
 public:
  explicit LocalRing(uint32_t depth)
      : memory_(new (std::align_val_t(kCacheLine)) uint8_t[DescriptorRing::BytesFor(depth)]) {
    auto* header = new (memory_.get()) RingHeader{};
    DescriptorRing::Initialize(header, depth);
    ring_.emplace(header, depth);
  }
  DescriptorRing& ring() { return *ring_; }
  RingHeader* header() { return reinterpret_cast<RingHeader*>(memory_.get()); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { operator delete[](p, std::align_val_t(kCacheLine)); }
  };
  std::unique_ptr<uint8_t[], Free> memory_;
  std::optional<DescriptorRing> ring_;
};

Descriptor WithCell(uint32_t cell) {
  Descriptor d{};
  d.cell = cell;
  return d;
}

TEST(DescriptorRing, PopsInPushOrder) {
  LocalRing local(4);
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(local.ring().Push(WithCell(i)));
  Descriptor out;
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(local.ring().Pop(out));
    EXPECT_EQ(out.cell, i);
  }
  EXPECT_FALSE(local.ring().Pop(out));
}

TEST(DescriptorRing, PushFailsWhenFullAndSucceedsAfterAPop) {
  LocalRing local(4);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(local.ring().Push(WithCell(i)));
  EXPECT_FALSE(local.ring().Push(WithCell(99)));
  Descriptor out;
  ASSERT_TRUE(local.ring().Pop(out));
  EXPECT_TRUE(local.ring().Push(WithCell(4)));
}

TEST(DescriptorRing, EmptyReflectsContents) {
  LocalRing local(2);
  EXPECT_TRUE(local.ring().Empty());
  ASSERT_TRUE(local.ring().Push(WithCell(1)));
  EXPECT_FALSE(local.ring().Empty());
}

TEST(DescriptorRing, ManyProducersAndConsumersDeliverEveryDescriptorOnce) {
  LocalRing local(64);
  constexpr uint32_t kProducers = 3, kPerProducer = 20000;
  std::vector<std::atomic<uint32_t>> seen(kProducers * kPerProducer);
  std::atomic<uint32_t> consumed{0};
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (uint32_t i = 0; i < kPerProducer; ++i) {
        while (!local.ring().Push(WithCell(p * kPerProducer + i))) std::this_thread::yield();
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      Descriptor out;
      while (consumed.load() < kProducers * kPerProducer) {
        if (local.ring().Pop(out)) {
          seen[out.cell].fetch_add(1);
          consumed.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& count : seen) ASSERT_EQ(count.load(), 1U);
}

TEST(DescriptorRing, WaitForPushReturnsAtOnceWhenSignalMovedOn) {
  LocalRing local(2);
  const uint32_t signal = local.ring().Signal();
  local.ring().Nudge();
  // Must not sleep for the full minute: the signal changed after it was read.
  const auto start = std::chrono::steady_clock::now();
  local.ring().WaitForPush(signal, std::chrono::minutes(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(DescriptorRing, CorruptSequenceMakesPushAndPopFailInsteadOfLooping) {
  LocalRing local(4);
  auto* cell = reinterpret_cast<RingCell*>(local.header() + 1);
  cell[0].sequence.store(12345);  // what a broken or hostile peer could write
  Descriptor out;
  EXPECT_FALSE(local.ring().Pop(out));
  EXPECT_FALSE(local.ring().Push(WithCell(1)));
}

TEST(DescriptorRing, CountsRequestsBeingBuilt) {
  LocalRing local(2);
  EXPECT_FALSE(local.ring().SomeoneBuilding());
  local.ring().BeginBuilding(/*wake_consumer=*/true);
  local.ring().BeginBuilding(/*wake_consumer=*/false);
  EXPECT_TRUE(local.ring().SomeoneBuilding());
  local.ring().EndBuilding();
  EXPECT_TRUE(local.ring().SomeoneBuilding());
  local.ring().EndBuilding();
  EXPECT_FALSE(local.ring().SomeoneBuilding());
}

}  // namespace
}  // namespace ferry::shm
