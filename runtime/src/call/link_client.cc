// Client calls over a FrameLink: a request frame out, then the caller waits for the reply
// frame with its call id, reading frames itself while no other caller does.
#include "call/link_client.h"

#include <algorithm>

#include "call/call_frame.h"
#include "os/deadline.h"
#include "call/pool_allocator.h"

namespace ferry::internal {

std::shared_ptr<LinkClient> LinkClient::Start(std::unique_ptr<FrameLink> link,
                                              std::string endpoint, uint64_t max_message_bytes) {
  return std::shared_ptr<LinkClient>(
      new LinkClient(std::move(link), std::move(endpoint), max_message_bytes));
}

LinkClient::LinkClient(std::unique_ptr<FrameLink> link, std::string endpoint,
                       uint64_t max_message_bytes)
    : link_(std::move(link)),
      endpoint_(std::move(endpoint)),
      max_message_bytes_(max_message_bytes),
      // One pool per connection when the link has one: it trims it while waiting for replies.
      send_pool_(link_->pool() ? link_->pool() : BufferPool::Create()) {}

LinkClient::~LinkClient() { link_->Shutdown(); }

OutgoingMessage LinkClient::NewMessage(size_t size_hint) {
  return OutgoingMessage(
      std::make_unique<PoolAllocator>(shared_from_this(), send_pool_, growth_copied_),
      size_hint);
}

Result<IncomingMessage> LinkClient::Call(uint32_t method_id, MethodKind kind,
                                         OutgoingMessage request, const CallOptions& options) {
  auto* allocator = dynamic_cast<PoolAllocator*>(request.allocator());
  if (allocator == nullptr || !allocator->BelongsTo(growth_copied_)) {
    return Status::InvalidArgument("the request was built for another channel");
  }
  if (!request.finished()) {
    return Status::InvalidArgument("the request was not finished (call Finish on its builder)");
  }
  const std::span<const uint8_t> payload(request.fbb().GetBufferPointer(),
                                         request.fbb().GetSize());
  if (payload.size() > max_message_bytes_) {
    return Status::ResourceExhausted("request of " + std::to_string(payload.size()) +
                                     " bytes is over max_message_bytes (" +
                                     std::to_string(max_message_bytes_) + ")");
  }
  const Clock::time_point deadline = DeadlineFrom(options.deadline);
  CallFields fields;
  fields.type = FrameType::kRequest;
  fields.method_id = method_id;
  fields.kind = static_cast<uint8_t>(kind);
  if (deadline != Clock::time_point::max()) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::DeadlineExceeded("the deadline passed before the call");
    fields.deadline_us = static_cast<uint64_t>(left.count());
  }
  Pending pending;
  const bool oneway = kind == MethodKind::kOneway;
  {
    std::lock_guard lock(mutex_);
    if (closed_.load(std::memory_order_relaxed)) return closed_status_;
    fields.call_id = next_call_id_++;
    if (!oneway) pending_.emplace(fields.call_id, &pending);
  }
  const EncodedHeader header(fields);
  const FrameLink::Part parts[] = {header.header(), header.padding(), payload};
  if (Status sent = link_->Send(parts, deadline); !sent.ok()) {
    std::lock_guard lock(mutex_);
    pending_.erase(fields.call_id);
    if (sent.code() == StatusCode::kDeadlineExceeded || Clock::now() >= deadline) {
      return Status::DeadlineExceeded("the request to " + endpoint_ +
                                      " could not be sent before the deadline: " + sent.message());
    }
    return Status::Unavailable("cannot send to " + endpoint_ + ": " + sent.message());
  }
  if (oneway) return IncomingMessage();

  std::unique_lock lock(mutex_);
  if (Status status = AwaitReply(fields.call_id, pending, deadline, lock); !status.ok()) {
    return status;
  }
  return std::move(pending.reply);
}

Status LinkClient::AwaitReply(uint64_t id, Pending& pending, Clock::time_point deadline,
                              std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (pending.done) return pending.status;
    if (Clock::now() >= deadline) {
      pending_.erase(id);
      lock.unlock();
      SendCancel(id);
      return Status::DeadlineExceeded("no reply from " + endpoint_ + " before the deadline");
    }
    if (reading_) {
      const auto woken = [&] { return pending.done || !reading_; };
      if (deadline == Clock::time_point::max()) {
        pending.cv.wait(lock, woken);
      } else {
        pending.cv.wait_until(lock, deadline, woken);
      }
      continue;
    }
    reading_ = true;
    lock.unlock();
    Result<PooledBuffer> frame = link_->Receive(deadline);
    bool broken = false;
    if (frame.ok()) broken = !Deliver(std::move(*frame));
    lock.lock();
    reading_ = false;
    if (broken) {
      link_->Shutdown();
      FailAll(Status::Unavailable("the server at " + endpoint_ + " broke the protocol"));
    } else if (!frame.ok() && frame.status().code() != StatusCode::kDeadlineExceeded) {
      link_->Shutdown();  // a bad or cut-short frame leaves the stream unusable
      FailAll(Status::Unavailable("the server at " + endpoint_ + " went away (" +
                                  frame.status().message() + ")"));
    }
    // Others may wait for a reply with nobody reading now: one of them takes the role on.
    for (auto& [other, waiting] : pending_) waiting->cv.notify_one();
  }
}

void LinkClient::SendCancel(uint64_t id) {
  CallFields cancel;
  cancel.type = FrameType::kCancel;
  cancel.call_id = id;
  const EncodedHeader header(cancel);
  const FrameLink::Part parts[] = {header.header(), header.padding()};
  // Best effort and never long: the server also ends the call at its deadline on its own.
  (void)link_->Send(parts, Clock::now() + std::chrono::milliseconds(100));
}

bool LinkClient::Deliver(PooledBuffer frame) {
  Result<DecodedFrame> decoded = DecodeCallFrame({frame.data(), frame.size()});
  if (!decoded.ok() || decoded->fields.type != FrameType::kReply) return false;
  const CallFields& fields = decoded->fields;
  std::lock_guard lock(mutex_);
  auto found = pending_.find(fields.call_id);
  if (found == pending_.end()) return true;  // the caller gave up (deadline): dropped
  Pending& pending = *found->second;
  pending_.erase(found);
  if (fields.status_code == 0) {
    pending.reply = std::move(frame).ToMessage(decoded->payload_offset, decoded->payload_size);
  } else if (fields.status_code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
    pending.status = Status::Unknown("status code " + std::to_string(fields.status_code) + ": " +
                                     fields.status_message);
  } else {
    pending.status = Status(static_cast<StatusCode>(fields.status_code), fields.status_message);
  }
  pending.done = true;
  pending.cv.notify_one();
  return true;
}

void LinkClient::FailAll(const Status& why) {
  closed_status_ = why;
  closed_.store(true, std::memory_order_release);
  for (auto& [id, pending] : pending_) {
    pending->status = why;
    pending->done = true;
    pending->cv.notify_one();
  }
  pending_.clear();
}

}  // namespace ferry::internal
