#include "shm/descriptor_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
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

using Clock = std::chrono::steady_clock;
constexpr auto kPushed = DescriptorRing::PushResult::kPushed;
constexpr auto kBusy = DescriptorRing::PushResult::kBusy;

Descriptor WithId(uint64_t call_id) {
  Descriptor d{};
  d.call_id = call_id;
  return d;
}

TEST(DescriptorRing, PopsInPushOrder) {
  LocalRing local(4);
  for (uint32_t i = 0; i < 3; ++i) ASSERT_EQ(local.ring().TryPush(WithId(i)), kPushed);
  Descriptor out;
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(local.ring().Pop(out));
    EXPECT_EQ(out.call_id, i);
  }
  EXPECT_FALSE(local.ring().Pop(out));
}

TEST(DescriptorRing, TryPushIsBusyWhenFullAndSucceedsAfterAPop) {
  LocalRing local(4);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(local.ring().TryPush(WithId(i)), kPushed);
  EXPECT_EQ(local.ring().TryPush(WithId(99)), kBusy);
  Descriptor out;
  ASSERT_TRUE(local.ring().Pop(out));
  EXPECT_EQ(local.ring().TryPush(WithId(4)), kPushed);
}

// The state a consumer leaves when it is preempted between claiming the oldest cell (moving
// dequeue_pos) and releasing it (its sequence): what made calls fail with "ring full".
void ClaimOldestCellWithoutReleasing(LocalRing& local) {
  local.header()->dequeue_pos.fetch_add(1);
}
void ReleaseOldestCell(LocalRing& local, uint32_t depth) {
  auto* cells = reinterpret_cast<RingCell*>(local.header() + 1);
  cells[0].sequence.store(depth);
  local.ring().WakeStalledProducers();
}

TEST(DescriptorRing, PushWaitsForAConsumerThatHoldsTheNextCellAndSucceedsWhenItReleases) {
  LocalRing local(4);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(local.ring().TryPush(WithId(i)), kPushed);
  ClaimOldestCellWithoutReleasing(local);
  ASSERT_EQ(local.ring().TryPush(WithId(4)), kBusy);

  std::atomic<bool> returned{false};
  DescriptorRing::PushResult result = kBusy;
  std::thread producer([&] {
    result = local.ring().Push<Clock>(WithId(4), Clock::time_point::max(), [] { return false; });
    returned = true;
  });
  // Observable: the producer announces itself before it sleeps.
  for (int i = 0; i < 10'000'000 && local.header()->stalled_producers.load() == 0; ++i) {
    std::this_thread::yield();
  }
  ASSERT_EQ(local.header()->stalled_producers.load(), 1U);
  EXPECT_FALSE(returned.load());
  ReleaseOldestCell(local, 4);
  producer.join();
  EXPECT_EQ(result, kPushed);
  EXPECT_EQ(local.header()->stalled_producers.load(), 0U);
}

TEST(DescriptorRing, PushGivesUpAtItsDeadlineOrWhenStoppedWhileTheCellStaysClaimed) {
  LocalRing local(2);
  for (uint32_t i = 0; i < 2; ++i) ASSERT_EQ(local.ring().TryPush(WithId(i)), kPushed);
  ClaimOldestCellWithoutReleasing(local);
  EXPECT_EQ(local.ring().Push<Clock>(WithId(2), Clock::now() + std::chrono::milliseconds(5),
                                     [] { return false; }),
            kBusy);
  EXPECT_EQ(local.ring().Push<Clock>(WithId(2), Clock::time_point::max(), [] { return true; }),
            kBusy);
}

TEST(DescriptorRing, EmptyReflectsContents) {
  LocalRing local(2);
  EXPECT_TRUE(local.ring().Empty());
  ASSERT_EQ(local.ring().TryPush(WithId(1)), kPushed);
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
        while (local.ring().TryPush(WithId(p * kPerProducer + i)) != kPushed) {
          std::this_thread::yield();
        }
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      Descriptor out;
      while (consumed.load() < kProducers * kPerProducer) {
        if (local.ring().Pop(out)) {
          seen[out.call_id].fetch_add(1);
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

TEST(DescriptorRing, OnlyTheFirstPushAfterAConsumerSleptPaysForTheWakeUp) {
  LocalRing local(8);
  RingHeader* header = local.header();
  // A consumer that finds the ring empty raises `waiters` before it sleeps (a zero timeout
  // returns at once, as a wake-up would).
  local.ring().WaitForPush(local.ring().Signal(), std::chrono::nanoseconds(0));
  EXPECT_EQ(header->waiters.load(), 1U);
  ASSERT_EQ(local.ring().TryPush(WithId(1)), kPushed);
  EXPECT_EQ(header->waiters.load(), 0U) << "the first push wakes the consumer and says so";
  const uint32_t signal = header->signal.load();
  ASSERT_EQ(local.ring().TryPush(WithId(2)), kPushed);
  EXPECT_EQ(header->waiters.load(), 0U);
  EXPECT_EQ(header->signal.load(), signal + 1) << "later pushes still move the signal";
  Descriptor out;
  ASSERT_TRUE(local.ring().Pop(out));
  EXPECT_EQ(out.call_id, 1U);
  ASSERT_TRUE(local.ring().Pop(out));
  EXPECT_EQ(out.call_id, 2U);
}

TEST(DescriptorRing, ASleepingConsumerIsWokenByAPush) {
  LocalRing local(8);
  std::atomic<bool> popped{false};
  std::thread consumer([&] {
    Descriptor out{};
    for (int i = 0; i < 1000 && !local.ring().Pop(out); ++i) {
      local.ring().WaitForPush(local.ring().Signal(), std::chrono::minutes(1));
    }
    popped = out.call_id == 7;
  });
  // Whether the push comes before or after the consumer sleeps, it must not sleep a minute.
  const auto start = Clock::now();
  ASSERT_EQ(local.ring().TryPush(WithId(7)), kPushed);
  consumer.join();
  EXPECT_TRUE(popped.load());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST(DescriptorRing, CorruptSequenceMakesPushAndPopFailInsteadOfLooping) {
  LocalRing local(4);
  auto* cell = reinterpret_cast<RingCell*>(local.header() + 1);
  cell[0].sequence.store(12345);  // what a broken or hostile peer could write
  Descriptor out;
  EXPECT_FALSE(local.ring().Pop(out));
  EXPECT_EQ(local.ring().TryPush(WithId(1)), DescriptorRing::PushResult::kCorrupt);
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
