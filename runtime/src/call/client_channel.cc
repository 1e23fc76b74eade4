// Replacing a lost connection: one attempt at a time, bounded by the caller's deadline and
// connect_timeout, with backoff between failed attempts.
#include "call/client_channel.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "os/deadline.h"

namespace ferry::internal {
namespace {

std::string Milliseconds(Clock::duration duration) {
  using std::chrono::ceil;
  using std::chrono::milliseconds;
  return std::to_string(std::max<int64_t>(0, ceil<milliseconds>(duration).count())) + " ms";
}

// Different for every channel of every process: their backoffs do not move in step.
uint64_t JitterSeed(const void* channel) {
  return static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^
         (static_cast<uint64_t>(getpid()) << 32) ^ reinterpret_cast<uintptr_t>(channel);
}

}  // namespace

ClientChannel::ClientChannel(std::shared_ptr<ClientEngine> engine, ConnectOptions options,
                             Connector connect)
    : endpoint_(engine->endpoint()),
      options_(std::move(options)),
      connect_(std::move(connect)),
      engine_(std::move(engine)),
      backoff_(options_.reconnect, JitterSeed(this)) {}

ChannelState ClientChannel::state() const {
  std::lock_guard lock(mutex_);
  if (connecting_) return ChannelState::kConnecting;
  if (engine_.load(std::memory_order_acquire)->Usable()) return ChannelState::kReady;
  if (!options_.reconnect.enabled) return ChannelState::kFailed;
  if (failed_ && Clock::now() < next_attempt_) return ChannelState::kFailed;
  return ChannelState::kIdle;
}

uint64_t ClientChannel::bytes_copied() const {
  std::lock_guard lock(mutex_);
  return replaced_bytes_copied_ + engine_.load(std::memory_order_acquire)->bytes_copied();
}

Result<std::shared_ptr<ClientEngine>> ClientChannel::Reconnect(CallOptions& options) {
  const Clock::time_point deadline = DeadlineFrom(options.deadline);
  std::unique_lock lock(mutex_);
  for (;;) {
    std::shared_ptr<ClientEngine> engine = engine_.load(std::memory_order_acquire);
    if (engine->Usable() || !options_.reconnect.enabled) return engine;
    if (connecting_) {
      // Another caller is connecting: its connection will do for this call too.
      if (attempt_ended_.wait_until(lock, deadline) == std::cv_status::timeout && connecting_) {
        return Status::DeadlineExceeded("the channel to " + endpoint_ +
                                        " was still connecting again at the call's deadline");
      }
      continue;
    }
    const Clock::time_point now = Clock::now();
    if (failed_ && now < next_attempt_) {
      return Status(last_failure_.code(),
                    "not connected to " + endpoint_ + " (the next attempt in " +
                        Milliseconds(next_attempt_ - now) + "): " + last_failure_.message());
    }
    if (now >= deadline) {
      return Status::DeadlineExceeded("the connection to " + endpoint_ +
                                      " was lost and the call's deadline has passed");
    }
    connecting_ = true;
    lock.unlock();
    engine.reset();  // the lost engine goes, if nothing else holds it, outside the lock

    ConnectOptions attempt = options_;
    if (deadline != Clock::time_point::max()) {
      attempt.connect_timeout = std::min(
          attempt.connect_timeout, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    }
    Result<std::shared_ptr<MessageLink>> link = connect_(attempt);
    std::shared_ptr<ClientEngine> fresh =
        link.ok() ? ClientEngine::Start(std::move(*link), endpoint_, options_) : nullptr;

    lock.lock();
    connecting_ = false;
    attempt_ended_.notify_all();
    if (fresh == nullptr) {
      const Clock::time_point ended = Clock::now();
      if (ended >= deadline && link.status().code() == StatusCode::kDeadlineExceeded) {
        // Cut short by this call's deadline: no word on the server, no backoff.
        return Status::DeadlineExceeded("connecting again to " + endpoint_ +
                                        " outlasted the call's deadline");
      }
      failed_ = true;
      last_failure_ = link.status();
      next_attempt_ = ended + backoff_.Next();
      return Status(last_failure_.code(),
                    "connecting again to " + endpoint_ + ": " + last_failure_.message());
    }
    failed_ = false;
    backoff_.Reset();
    std::shared_ptr<ClientEngine> replaced = engine_.exchange(fresh, std::memory_order_acq_rel);
    replaced_bytes_copied_ += replaced->bytes_copied();
    lock.unlock();
    replaced.reset();
    if (options.deadline != std::chrono::nanoseconds::zero()) {
      // What is left of the call's time; a deadline that passed meanwhile stays passed.
      const auto left =
          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      options.deadline =
          left > std::chrono::nanoseconds::zero() ? left : std::chrono::nanoseconds(-1);
    }
    return fresh;
  }
}

}  // namespace ferry::internal
