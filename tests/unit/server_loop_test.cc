// The server's worker pool without processes or links: eventfd doorbells, posted work, and
// the extra thread that keeps one worker free while handlers block.
#include "call/server_loop.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;

// Records every OnReady; with `block_in_handler`, each call stands in a handler until
// Release().
class Recorder final : public ServerLoop::Source {
 public:
  explicit Recorder(ServerLoop* loop = nullptr) : loop_(loop) {}

  void OnReady(uint32_t tag) override {
    std::unique_lock lock(mutex_);
    tags_.push_back(tag);
    changed_.notify_all();
    if (loop_ == nullptr) return;
    lock.unlock();
    loop_->EnterHandler();
    lock.lock();
    ++in_handler_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
    --in_handler_;
    lock.unlock();
    loop_->LeaveHandler();
  }

  bool WaitForCalls(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return tags_.size() >= n; });
  }
  bool WaitInHandler(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return in_handler_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  std::vector<uint32_t> tags() {
    std::lock_guard lock(mutex_);
    return tags_;
  }

 private:
  ServerLoop* const loop_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<uint32_t> tags_;
  int in_handler_ = 0;
  bool released_ = false;
};

void Ring(int fd) {
  const uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

std::shared_ptr<ServerLoop> NewLoop(unsigned workers, unsigned most) {
  Result<std::shared_ptr<ServerLoop>> loop = ServerLoop::Create(workers, most, nullptr);
  EXPECT_TRUE(loop.ok()) << loop.status();
  return loop.ok() ? *loop : nullptr;
}

TEST(ServerLoop, EveryRingOfAWatchedEventfdIsAnnouncedWithoutReadingIt) {
  auto loop = NewLoop(2, 2);
  ASSERT_NE(loop, nullptr);
  auto recorder = std::make_shared<Recorder>();
  Fd doorbell(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Result<uint64_t> token = loop->Watch(doorbell.get(), 7, recorder);
  ASSERT_TRUE(token.ok()) << token.status();
  // The counter is never read (a polled link does not): each write still rings once more.
  for (size_t n = 1; n <= 3; ++n) {
    Ring(doorbell.get());
    ASSERT_TRUE(recorder->WaitForCalls(n)) << "ring " << n << " was not announced";
  }
  EXPECT_EQ(recorder->tags(), (std::vector<uint32_t>{7, 7, 7}));
  loop->Unwatch(doorbell.get(), *token);
}

TEST(ServerLoop, AnUnwatchedDoorbellRingsNoMore) {
  auto loop = NewLoop(1, 1);
  ASSERT_NE(loop, nullptr);
  auto watched = std::make_shared<Recorder>();
  auto sentinel = std::make_shared<Recorder>();
  Fd doorbell(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Result<uint64_t> token = loop->Watch(doorbell.get(), 1, watched);
  ASSERT_TRUE(token.ok());
  loop->Unwatch(doorbell.get(), *token);
  Ring(doorbell.get());
  ASSERT_TRUE(loop->Post(sentinel, 2));
  ASSERT_TRUE(sentinel->WaitForCalls(1));
  EXPECT_TRUE(watched->tags().empty());
}

TEST(ServerLoop, PostedWorkRunsAndAGoneSourceIsSkipped) {
  auto loop = NewLoop(2, 2);
  ASSERT_NE(loop, nullptr);
  auto gone = std::make_shared<Recorder>();
  std::weak_ptr<Recorder> weak = gone;
  gone.reset();
  ASSERT_TRUE(loop->Post(weak, 1));  // skipped: nothing to call
  auto recorder = std::make_shared<Recorder>();
  for (uint32_t tag = 0; tag < 5; ++tag) ASSERT_TRUE(loop->Post(recorder, tag));
  ASSERT_TRUE(recorder->WaitForCalls(5));
  loop->Stop();
  EXPECT_FALSE(loop->Post(recorder, 9));
  EXPECT_EQ(loop->threads(), 0U);
}

TEST(ServerLoop, HandlersThatBlockBringThreadsUpToTheBoundNotPast) {
  auto loop = NewLoop(1, 3);
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->threads(), 1U);
  auto recorder = std::make_shared<Recorder>(loop.get());
  // Each blocked handler leaves no worker free, so one more thread joins, until the third.
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(loop->Post(recorder, 0));
    ASSERT_TRUE(recorder->WaitInHandler(n)) << n;
  }
  EXPECT_EQ(loop->threads(), 3U);
  // A fourth waits for a worker instead of starting a thread past max_workers.
  ASSERT_TRUE(loop->Post(recorder, 0));
  recorder->Release();
  ASSERT_TRUE(recorder->WaitForCalls(4));
  EXPECT_LE(loop->threads(), 3U);
  loop->Stop();
  EXPECT_EQ(loop->threads(), 0U);
}

}  // namespace
}  // namespace ferry::internal
