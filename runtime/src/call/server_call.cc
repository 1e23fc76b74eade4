// One call on the server: cancellation, deadlines and flow control as the handler sees them.
#include "call/server_call.h"

#include <algorithm>

namespace ferry::internal {
namespace {

bool ClientWritesKind(uint8_t kind) {
  return kind == static_cast<uint8_t>(MethodKind::kClientStreaming) ||
         kind == static_cast<uint8_t>(MethodKind::kBidiStreaming);
}

}  // namespace

ServerCall::ServerCall(std::mutex& mutex, std::shared_ptr<MessageLink> link,
                       const StreamWindow& window, const CallHeader& header,
                       IncomingMessage request)
    : mutex_(mutex),
      link_(std::move(link)),
      window_(window),
      id_(header.call_id),
      method_id_(header.method_id),
      kind_(header.kind),
      deadline_(DeadlineFromWire(header.deadline_us)),
      request_(std::move(request)),
      peer_window_messages_(std::max(1U, header.window_messages)),
      peer_window_bytes_(header.window_bytes) {}

std::string_view ServerCall::method() const {
  return method_ != nullptr ? std::string_view(method_->name) : std::string_view();
}

bool ServerCall::client_writes() const { return ClientWritesKind(kind_); }

bool ServerCall::Cancelled() const {
  return cancelled_.load(std::memory_order_relaxed) ||
         (deadline_ != Clock::time_point::max() && Clock::now() >= deadline_);
}

bool ServerCall::WaitForCancel(Clock::time_point until) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, std::min(until, deadline_),
                      [&] { return cancelled_.load(std::memory_order_relaxed); });
  return Cancelled();
}

void ServerCall::OnCancel(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (concluded_) return;
    if (!cancelled_.load(std::memory_order_relaxed)) {
      on_cancel_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void ServerCall::CancelLocked() {
  cancelled_.store(true, std::memory_order_relaxed);
  changed_.notify_all();
}

void ServerCall::RunCancelCallbacks() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    if (concluded_ || on_cancel_.empty()) return;
    callbacks.swap(on_cancel_);
    ++callbacks_running_;
    callbacks_thread_ = std::this_thread::get_id();
  }
  for (std::function<void()>& callback : callbacks) callback();
  {
    std::lock_guard lock(mutex_);
    --callbacks_running_;
  }
  changed_.notify_all();
}

template <class Ready>
void ServerCall::ReadLinkBeforeWaiting(std::unique_lock<std::mutex>& lock, Ready ready) {
  // First a look that may leave the link unparked; if that did not do, one that parks it,
  // so that what arrives next wakes a worker while we wait.
  for (const bool then_wait : {false, true}) {
    if (ready() || stream_reads_ == nullptr) return;
    lock.unlock();
    stream_reads_->ReadOnStreamThread(then_wait);
    lock.lock();
  }
}

Status ServerCall::Write(OutgoingMessage message) {
  if (kind_ != static_cast<uint8_t>(MethodKind::kServerStreaming) &&
      kind_ != static_cast<uint8_t>(MethodKind::kBidiStreaming)) {
    return Status::FailedPrecondition("Write on a call that does not stream to the client");
  }
  const uint64_t size = message.fbb().GetSize();
  {
    std::unique_lock lock(mutex_);
    const auto room = [&] {
      return cancelled_.load(std::memory_order_relaxed) ||
             (unacked_messages_ < peer_window_messages_ &&
              (unacked_messages_ == 0 || unacked_bytes_ + size <= peer_window_bytes_));
    };
    ReadLinkBeforeWaiting(lock, room);  // the client's window update may be there, unread
    if (!changed_.wait_until(lock, deadline_, room)) {
      return Status::DeadlineExceeded("the client did not read the stream before the deadline");
    }
    if (cancelled_.load(std::memory_order_relaxed)) {
      return Status::Cancelled("the client ended the call");
    }
    ++unacked_messages_;
    unacked_bytes_ += size;
  }
  CallHeader header;
  header.type = FrameType::kMessage;
  header.call_id = id_;
  Status sent = link_->Send(header, &message, deadline_);
  if (sent.ok() && stream_reads_ != nullptr && link_->InboundReady()) {
    stream_reads_->ReadOnStreamThread(/*then_wait=*/false);
  }
  if (!sent.ok()) {
    std::lock_guard lock(mutex_);
    --unacked_messages_;
    unacked_bytes_ -= size;
    // The link is down: the client is gone, which ends the call for it (the connection's
    // reader may not have noticed yet).
    if (sent.code() == StatusCode::kUnavailable) cancelled_.store(true, std::memory_order_relaxed);
  }
  return sent;
}

std::optional<IncomingMessage> ServerCall::Read() {
  if (!ClientWritesKind(kind_)) return std::nullopt;
  std::unique_lock lock(mutex_);
  const auto ready = [&] {
    return !inbound_.empty() || half_closed_ || concluded_ ||
           cancelled_.load(std::memory_order_relaxed) || !rejected_.ok();
  };
  ReadLinkBeforeWaiting(lock, ready);  // the client's next message may be there, unread
  changed_.wait_until(lock, deadline_, ready);
  if (inbound_.empty() || concluded_ || cancelled_.load(std::memory_order_relaxed) ||
      !rejected_.ok()) {
    return std::nullopt;
  }
  IncomingMessage message = std::move(inbound_.front());
  inbound_.pop_front();
  inbound_bytes_ -= message.size();
  ++read_unacked_messages_;
  read_unacked_bytes_ += message.size();
  if (read_unacked_messages_ * 2 >= std::max(1U, window_.messages) ||
      read_unacked_bytes_ * 2 >= window_.bytes) {
    const uint32_t messages = std::exchange(read_unacked_messages_, 0);
    const uint64_t bytes = std::exchange(read_unacked_bytes_, 0);
    lock.unlock();
    SendAck(messages, bytes);
  }
  return message;
}

void ServerCall::Reject(Status why) {
  std::lock_guard lock(mutex_);
  if (rejected_.ok()) rejected_ = std::move(why);
  inbound_.clear();
  inbound_bytes_ = 0;
  changed_.notify_all();
}

bool ServerCall::Deliver(IncomingMessage message) {
  if (half_closed_ || !rejected_.ok() || cancelled_.load(std::memory_order_relaxed)) {
    return true;  // the handler reads no more: dropped (its memory goes back now)
  }
  const uint32_t held = static_cast<uint32_t>(inbound_.size()) + read_unacked_messages_;
  const uint64_t held_bytes = inbound_bytes_ + read_unacked_bytes_;
  if (held >= std::max(1U, window_.messages) ||
      (held > 0 && held_bytes + message.size() > window_.bytes)) {
    return false;
  }
  inbound_bytes_ += message.size();
  inbound_.push_back(std::move(message));
  changed_.notify_all();
  return true;
}

void ServerCall::HalfClose() {
  half_closed_ = true;
  changed_.notify_all();
}

void ServerCall::StopReadingLocked() {
  half_closed_ = true;
  inbound_.clear();
  inbound_bytes_ = 0;
  changed_.notify_all();
}

void ServerCall::Acknowledge(const CallHeader& window) {
  peer_window_messages_ = std::max(1U, window.window_messages);
  peer_window_bytes_ = window.window_bytes;
  unacked_messages_ -= std::min(unacked_messages_, window.acked_messages);
  unacked_bytes_ -= std::min(unacked_bytes_, window.acked_bytes);
  changed_.notify_all();
}

CallHeader ServerCall::InitialWindow() const {
  CallHeader header;
  header.type = FrameType::kWindow;
  header.call_id = id_;
  header.window_messages = std::max(1U, window_.messages);
  header.window_bytes = window_.bytes;
  return header;
}

void ServerCall::SendAck(uint32_t messages, uint64_t bytes) {
  CallHeader header = InitialWindow();
  header.acked_messages = messages;
  header.acked_bytes = bytes;
  (void)link_->Send(header, nullptr, deadline_);  // a failure ends the link: the reader sees it
}

Status ServerCall::Conclude(Status handler_status) {
  std::unique_lock lock(mutex_);
  // OnCancel callbacks never run after the call has ended: those running now finish first
  // (unless one of them is ending it).
  changed_.wait(lock, [&] {
    return callbacks_running_ == 0 || callbacks_thread_ == std::this_thread::get_id();
  });
  concluded_ = true;
  changed_.notify_all();  // a Read still waiting (a deferred reply was sent meanwhile) ends
  on_cancel_.clear();
  inbound_.clear();
  if (!rejected_.ok()) return rejected_;
  if (cancelled_.load(std::memory_order_relaxed)) {
    return Status::Cancelled("the client cancelled the call");
  }
  if (deadline_ != Clock::time_point::max() && Clock::now() >= deadline_) {
    // The caller has given up (or is about to): whatever the handler made of it, the call's
    // outcome is its deadline.
    return Status::DeadlineExceeded("the deadline passed while the handler ran");
  }
  return handler_status;
}

}  // namespace ferry::internal
