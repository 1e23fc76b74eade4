// ClientChannel (replacing a lost connection) and ReconnectBackoff, over fake links and a
// connector the test controls: no processes, no sockets.
#include "call/client_channel.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include "call/client_engine.h"
#include "call/reconnect_backoff.h"
#include "fake_link.h"
#include "support/eventually.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;
using testing::FakeLink;

constexpr auto kGenerous = 10s;  // a bound on waits for what tests observe

// Connections the channel makes: each attempt succeeds or fails as the test says, and may be
// held until the test lets it finish.
class FakeConnector {
 public:
  ClientChannel::Connector AsConnector() {
    return [this](const ConnectOptions& options) { return Attempt(options); };
  }

  void FailWith(Status status) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(status);
  }
  void Succeed() { FailWith(Status::Ok()); }
  // Attempts from now on wait in the connector until Release().
  void Hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  bool WaitForAttemptsInside(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kGenerous, [&] { return inside_ == count; });
  }
  int attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  std::chrono::milliseconds last_timeout() const {
    std::lock_guard lock(mutex_);
    return last_timeout_;
  }

 private:
  Result<std::shared_ptr<MessageLink>> Attempt(const ConnectOptions& options) {
    std::unique_lock lock(mutex_);
    ++attempts_;
    ++inside_;
    last_timeout_ = options.connect_timeout;
    changed_.notify_all();
    changed_.wait_for(lock, kGenerous, [&] { return !held_; });
    --inside_;
    changed_.notify_all();
    if (!failure_.ok()) return failure_;
    auto [client_end, server_end] = FakeLink::Pair();
    server_ends_.push_back(server_end);
    return std::shared_ptr<MessageLink>(client_end);
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Status failure_;
  bool held_ = false;
  int attempts_ = 0;
  int inside_ = 0;
  std::chrono::milliseconds last_timeout_{0};
  std::vector<std::shared_ptr<FakeLink>> server_ends_;
};

class ClientChannelTest : public ::testing::Test {
 protected:
  void Start(ReconnectOptions reconnect = {}) {
    auto [client_end, server_end] = FakeLink::Pair();
    first_link_ = client_end;
    first_server_end_ = server_end;
    options_.reconnect = reconnect;
    channel_ =
        std::make_unique<ClientChannel>(ClientEngine::Start(client_end, "fake://channel", options_),
                                        options_, connector_.AsConnector());
  }

  // The server end of the first connection goes away.
  void LoseFirstConnection() { first_server_end_->Shutdown(); }

  Result<std::shared_ptr<ClientEngine>> ForCall(std::chrono::nanoseconds deadline = 0ns) {
    CallOptions options;
    options.deadline = deadline;
    return channel_->ForCall(options);
  }

  // Waits (bounded) until the channel's state is `state`.
  bool EventuallyIn(ChannelState state) {
    return ferry::testing::Eventually([&] { return channel_->state() == state; }, kGenerous);
  }

  ConnectOptions options_;
  FakeConnector connector_;
  std::shared_ptr<FakeLink> first_link_;
  std::shared_ptr<FakeLink> first_server_end_;
  std::unique_ptr<ClientChannel> channel_;
};

TEST_F(ClientChannelTest, KeepsItsConnectionWhileItIsUsable) {
  Start();
  auto first = ForCall();
  ASSERT_TRUE(first.ok());
  auto second = ForCall();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(channel_->state(), ChannelState::kReady);
  EXPECT_EQ(connector_.attempts(), 0);
}

TEST_F(ClientChannelTest, ALostConnectionIsIdleUntilTheNextCallConnectsAgain) {
  Start();
  auto lost = channel_->current();
  LoseFirstConnection();
  EXPECT_EQ(channel_->state(), ChannelState::kIdle);
  EXPECT_EQ(connector_.attempts(), 0) << "nothing connects before a call";
  auto fresh = ForCall();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_NE(*fresh, lost);
  EXPECT_EQ(channel_->current(), *fresh);
  EXPECT_EQ(channel_->state(), ChannelState::kReady);
  EXPECT_EQ(connector_.attempts(), 1);
}

TEST_F(ClientChannelTest, AFailedAttemptFailsCallsAtOnceDuringTheBackoff) {
  Start({.initial_backoff = 60s, .multiplier = 2, .max_backoff = 60s, .jitter = 0});
  LoseFirstConnection();
  connector_.FailWith(Status::Unavailable("nobody listens"));
  auto failed = ForCall();
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "connecting again to fake://channel: nobody listens");
  EXPECT_EQ(channel_->state(), ChannelState::kFailed);

  connector_.Succeed();
  auto backing_off = ForCall();
  EXPECT_EQ(backing_off.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(backing_off.status().message().find("the next attempt in"), std::string::npos)
      << backing_off.status();
  EXPECT_EQ(connector_.attempts(), 1) << "no attempt during the backoff";
}

TEST_F(ClientChannelTest, OnceTheBackoffHasPassedTheNextCallTriesAgain) {
  Start({.initial_backoff = 0ms, .multiplier = 2, .max_backoff = 0ms, .jitter = 0});
  LoseFirstConnection();
  connector_.FailWith(Status::Unavailable("nobody listens"));
  EXPECT_EQ(ForCall().status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(EventuallyIn(ChannelState::kIdle));
  connector_.Succeed();
  auto fresh = ForCall();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(connector_.attempts(), 2);
  EXPECT_EQ(channel_->state(), ChannelState::kReady);
}

TEST_F(ClientChannelTest, TheAttemptKeepsTheFailuresCodeAndIsBoundedByTheCallersDeadline) {
  Start();
  LoseFirstConnection();
  connector_.FailWith(Status::PermissionDenied("another user"));
  auto refused = ForCall(2s);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_LE(connector_.last_timeout(), 2000ms);
  EXPECT_GT(connector_.last_timeout(), 0ms);
}

TEST_F(ClientChannelTest, AnAttemptThatTimesOutIsUnavailableNotTheCallsDeadline) {
  Start({.initial_backoff = 60s});
  LoseFirstConnection();
  connector_.FailWith(Status::DeadlineExceeded("the handshake took too long"));
  auto failed = ForCall();  // no deadline of its own
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ(ForCall().status().code(), StatusCode::kUnavailable);
}

TEST_F(ClientChannelTest, WithReconnectingOffTheLostConnectionStays) {
  Start({.enabled = false});
  auto lost = channel_->current();
  LoseFirstConnection();
  auto engine = ForCall();
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ(*engine, lost);
  EXPECT_EQ(channel_->state(), ChannelState::kFailed);
  EXPECT_EQ(connector_.attempts(), 0);
}

TEST_F(ClientChannelTest, CallersThatComeDuringAnAttemptWaitForItsConnection) {
  Start();
  LoseFirstConnection();
  connector_.Hold();
  auto first = std::async(std::launch::async, [&] { return ForCall(); });
  ASSERT_TRUE(connector_.WaitForAttemptsInside(1));
  EXPECT_EQ(channel_->state(), ChannelState::kConnecting);
  CallOptions second_options;
  second_options.deadline = kGenerous;
  auto second =
      std::async(std::launch::async, [&] { return channel_->ForCall(second_options); });
  // A caller whose deadline passes while it waits gives up without an attempt of its own.
  auto hurried = ForCall(1ms);
  EXPECT_EQ(hurried.status().code(), StatusCode::kDeadlineExceeded) << hurried.status();
  connector_.Release();
  auto first_engine = first.get();
  auto second_engine = second.get();
  ASSERT_TRUE(first_engine.ok()) << first_engine.status();
  ASSERT_TRUE(second_engine.ok()) << second_engine.status();
  EXPECT_EQ(*first_engine, *second_engine);
  EXPECT_EQ(connector_.attempts(), 1);
  // It goes on with what is left of its time.
  EXPECT_GT(second_options.deadline, 0ns);
  EXPECT_LT(second_options.deadline, kGenerous);
}

TEST_F(ClientChannelTest, ARequestBuiltBeforeTheChannelConnectedAgainIsCopiedToTheNewOne) {
  Start();
  OutgoingMessage request = channel_->current()->NewMessage(64);
  request.fbb().Finish(request.fbb().CreateString("built on the lost connection"));
  request.MarkFinished();
  LoseFirstConnection();
  auto fresh = ForCall();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const uint32_t size = request.fbb().GetSize();
  OutgoingMessage adopted = (*fresh)->Adopt(std::move(request));
  ASSERT_TRUE(adopted.finished());
  ASSERT_EQ(adopted.fbb().GetSize(), size);
  auto* text = flatbuffers::GetRoot<flatbuffers::String>(adopted.fbb().GetBufferPointer());
  EXPECT_EQ(text->str(), "built on the lost connection");
  EXPECT_EQ(channel_->bytes_copied(), size);
  // One of its own is taken as it is.
  OutgoingMessage own = (*fresh)->NewMessage(64);
  own.fbb().Finish(own.fbb().CreateString("x"));
  own.MarkFinished();
  OutgoingMessage same = (*fresh)->Adopt(std::move(own));
  EXPECT_EQ(channel_->bytes_copied(), size);
}

TEST(ChannelState, HasNames) {
  EXPECT_EQ(ToString(ChannelState::kReady), "READY");
  EXPECT_EQ(ToString(ChannelState::kIdle), "IDLE");
  EXPECT_EQ(ToString(ChannelState::kConnecting), "CONNECTING");
  EXPECT_EQ(ToString(ChannelState::kFailed), "FAILED");
}

TEST(ReconnectBackoff, GrowsByTheMultiplierUpToTheMaximumAndResets) {
  ReconnectBackoff backoff(
      {.initial_backoff = 100ms, .multiplier = 2, .max_backoff = 500ms, .jitter = 0}, 1);
  EXPECT_EQ(backoff.Next(), 100ms);
  EXPECT_EQ(backoff.Next(), 200ms);
  EXPECT_EQ(backoff.Next(), 400ms);
  EXPECT_EQ(backoff.Next(), 500ms);
  EXPECT_EQ(backoff.Next(), 500ms);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), 100ms);
}

TEST(ReconnectBackoff, JittersEachWaitWithinItsBoundsAndNotAllAlike) {
  ReconnectBackoff backoff(
      {.initial_backoff = 1000ms, .multiplier = 1, .max_backoff = 1000ms, .jitter = 0.2}, 42);
  std::chrono::nanoseconds lowest = std::chrono::nanoseconds::max();
  std::chrono::nanoseconds highest = std::chrono::nanoseconds::min();
  for (int i = 0; i < 200; ++i) {
    const std::chrono::nanoseconds wait = backoff.Next();
    ASSERT_GE(wait, 800ms);
    ASSERT_LE(wait, 1200ms);
    lowest = std::min(lowest, wait);
    highest = std::max(highest, wait);
  }
  EXPECT_GT(highest - lowest, 200ms) << "200 waits spread over less than half the range";
}

TEST(ReconnectBackoff, BringsOptionsOutOfRangeIntoRange) {
  ReconnectBackoff nonsense({.initial_backoff = -5ms,
                             .multiplier = std::numeric_limits<double>::quiet_NaN(),
                             .max_backoff = -1ms,
                             .jitter = 7},
                            3);
  EXPECT_EQ(nonsense.Next(), 0ns);
  ReconnectBackoff huge({.initial_backoff = std::chrono::milliseconds::max(),
                         .multiplier = 1e300,
                         .max_backoff = std::chrono::milliseconds::max(),
                         .jitter = 0},
                        3);
  for (int i = 0; i < 3; ++i) {
    const std::chrono::nanoseconds wait = huge.Next();
    EXPECT_GT(wait, 0ns);
    EXPECT_LT(wait, std::chrono::hours(24 * 400));
  }
}

}  // namespace
}  // namespace ferry::internal
