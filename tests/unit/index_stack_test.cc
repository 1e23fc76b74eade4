#include "shm/index_stack.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace ferry::shm {
namespace {

class LocalStack {
 public:
  explicit LocalStack(uint32_t capacity, IndexStack::Fill fill = IndexStack::Fill::kFull)
      : memory_(new (std::align_val_t(kCacheLine)) uint8_t[IndexStack::BytesFor(capacity)]) {
    auto* header = new (memory_.get()) IndexStackHeader{};
    IndexStack::Initialize(header, capacity, fill);
    stack_.emplace(header, capacity);
  }
  IndexStack& stack() { return *stack_; }
  std::atomic<uint32_t>* links() {
    return reinterpret_cast<std::atomic<uint32_t>*>(memory_.get() + sizeof(IndexStackHeader));
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { operator delete[](p, std::align_val_t(kCacheLine)); }
  };
  std::unique_ptr<uint8_t[], Free> memory_;
  std::optional<IndexStack> stack_;
};

TEST(IndexStack, PopsEveryIndexOnceThenReportsEmpty) {
  LocalStack local(5);
  std::set<uint32_t> popped;
  for (int i = 0; i < 5; ++i) popped.insert(local.stack().Pop());
  EXPECT_EQ(popped, (std::set<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(local.stack().Pop(), kNoIndex);
}

TEST(IndexStack, PushedIndexIsPoppedNext) {
  LocalStack local(3);
  const uint32_t a = local.stack().Pop();
  local.stack().Push(a);
  EXPECT_EQ(local.stack().Pop(), a);
}

TEST(IndexStack, CorruptLinkEndsTheListInsteadOfLeavingIt) {
  LocalStack local(3);
  local.links()[0].store(1000000);  // index 0 is on top; its link now points far outside
  EXPECT_EQ(local.stack().Pop(), 0U);
  EXPECT_EQ(local.stack().Pop(), kNoIndex);
}

TEST(IndexStack, StartsEmptyWhenAskedTo) {
  LocalStack local(3, IndexStack::Fill::kEmpty);
  EXPECT_TRUE(local.stack().Empty());
  EXPECT_EQ(local.stack().Pop(), kNoIndex);
  local.stack().Push(2);
  EXPECT_FALSE(local.stack().Empty());
  EXPECT_EQ(local.stack().Pop(), 2U);
}

TEST(IndexStack, NotifyPushWakesAWaiterAndAWaitForWhatIsThereReturnsAtOnce) {
  LocalStack local(2, IndexStack::Fill::kEmpty);
  // Not empty: no sleep at all, however long the timeout.
  local.stack().Push(0);
  local.stack().WaitForPush(std::chrono::minutes(10), [&] { return local.stack().Empty(); });
  ASSERT_EQ(local.stack().Pop(), 0U);
  // Empty: a push from another thread, notified, ends the wait (a lost wake-up would hang
  // here until ctest's timeout).
  std::thread pusher([&] {
    local.stack().Push(1);
    local.stack().NotifyPush();
  });
  while (local.stack().Empty()) {
    local.stack().WaitForPush(std::chrono::minutes(10), [&] { return local.stack().Empty(); });
  }
  pusher.join();
  EXPECT_EQ(local.stack().Pop(), 1U);
}

TEST(IndexStack, ConcurrentPopPushNeverDuplicatesAnIndex) {
  LocalStack local(16);
  std::vector<std::atomic<int>> holders(16);
  std::atomic<bool> duplicate{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        const uint32_t index = local.stack().Pop();
        if (index == kNoIndex) continue;
        if (holders[index].fetch_add(1) != 0) duplicate = true;
        holders[index].fetch_sub(1);
        local.stack().Push(index);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(duplicate.load());
  int count = 0;
  while (local.stack().Pop() != kNoIndex) ++count;
  EXPECT_EQ(count, 16);
}

}  // namespace
}  // namespace ferry::shm
