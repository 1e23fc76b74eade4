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
  if (current()->Usable()) return ChannelState::kReady;
  if (!options_.reconnect.enabled) return ChannelState::kFailed;
  if (failed_ && Clock::now() < next_attempt_) return ChannelState::kFailed;
  return ChannelState::kIdle;
}

uint64_t ClientChannel::bytes_copied() const {
  std::lock_guard lock(mutex_);
  return replaced_bytes_copied_ + current()->bytes_copied();
}

Result<std::shared_ptr<ClientEngine>> ClientChannel::Reconnect(CallOptions& options) {
  const Clock::time_point deadline = DeadlineFrom(options.deadline);
  // The call goes on with what is left of its time (a deadline that passed stays passed).
  const auto leave_the_rest = [&] {
    if (options.deadline == std::chrono::nanoseconds::zero()) return;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
    options.deadline =
        left > std::chrono::nanoseconds::zero() ? left : std::chrono::nanoseconds(-1);
  };
  std::unique_lock lock(mutex_);
  for (;;) {
    std::shared_ptr<ClientEngine> engine = current();
    if (engine->Usable() || !options_.reconnect.enabled) {
      lock.unlock();
      leave_the_rest();
      return engine;
    }
    engine.reset();  // never the last reference under the lock (engine_ holds it meanwhile)
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

    ConnectOptions attempt = options_;
    if (deadline != Clock::time_point::max()) {
      attempt.connect_timeout = std::min(
          attempt.connect_timeout, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    }
    Result<std::shared_ptr<MessageLink>> link = Status::Internal("not attempted");
    std::shared_ptr<ClientEngine> fresh;
    try {
      link = connect_(attempt);
      if (link.ok()) fresh = ClientEngine::Start(std::move(*link), endpoint_, options_);
    } catch (const std::exception& e) {  // std::bad_alloc, a thread that cannot start
      link = Status::ResourceExhausted(std::string("connecting failed: ") + e.what());
    }

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
      if (last_failure_.code() == StatusCode::kDeadlineExceeded) {
        // The attempt's own connect_timeout, not the call's deadline: the server is not there
        // for us, which is what UNAVAILABLE says (calls during the backoff may have no deadline).
        last_failure_ = Status::Unavailable(last_failure_.message());
      }
      next_attempt_ = ended + backoff_.Next();
      return Status(last_failure_.code(),
                    "connecting again to " + endpoint_ + ": " + last_failure_.message());
    }
    failed_ = false;
    backoff_.Reset();
    std::shared_ptr<ClientEngine> replaced;
    {
      std::lock_guard swap(engine_mutex_);
      replaced = std::exchange(engine_, fresh);
    }
    replaced_bytes_copied_ += replaced->bytes_copied();
    lock.unlock();
    replaced.reset();  // the lost engine goes, if nothing else holds it, outside the lock
    leave_the_rest();
    return fresh;
  }
}

}  // namespace ferry::internal
