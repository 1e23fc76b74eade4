// Messages as frames: header encoded before the payload on the way out, decoded in place on
// the way in.
#include "call/frame_message_link.h"

#include "call/call_frame.h"
#include "call/pool_allocator.h"

namespace ferry::internal {

std::shared_ptr<FrameMessageLink> FrameMessageLink::Create(std::unique_ptr<FrameLink> link,
                                                           uint64_t max_message_bytes,
                                                           std::shared_ptr<BufferPool> send_pool) {
  return std::shared_ptr<FrameMessageLink>(
      new FrameMessageLink(std::move(link), max_message_bytes, std::move(send_pool)));
}

FrameMessageLink::FrameMessageLink(std::unique_ptr<FrameLink> link, uint64_t max_message_bytes,
                                   std::shared_ptr<BufferPool> send_pool)
    : link_(std::move(link)),
      max_message_bytes_(max_message_bytes),
      // One pool per connection when the link has one: it trims it while it waits.
      send_pool_(send_pool ? std::move(send_pool)
                           : (link_->pool() ? link_->pool() : BufferPool::Create())) {}

FrameMessageLink::~FrameMessageLink() { link_->Shutdown(); }

OutgoingMessage FrameMessageLink::NewMessage(size_t size_hint) {
  return OutgoingMessage(
      std::make_unique<PoolAllocator>(shared_from_this(), send_pool_, growth_copied_), size_hint);
}

bool FrameMessageLink::Owns(const OutgoingMessage& message) const {
  auto* allocator = dynamic_cast<PoolAllocator*>(message.allocator());
  return allocator != nullptr && allocator->BelongsTo(growth_copied_);
}

Status FrameMessageLink::Send(const CallHeader& header, OutgoingMessage* payload,
                              std::chrono::steady_clock::time_point deadline) {
  return SendFrame(header, payload, [&](std::span<const FrameLink::Part> parts) {
    return link_->Send(parts, deadline);
  });
}

Status FrameMessageLink::SendBatched(const CallHeader& header, OutgoingMessage* payload,
                                     std::chrono::steady_clock::time_point deadline) {
  return SendFrame(header, payload, [&](std::span<const FrameLink::Part> parts) {
    return link_->SendBatched(parts, deadline);
  });
}

template <class Sender>
Status FrameMessageLink::SendFrame(const CallHeader& header, OutgoingMessage* payload,
                                   Sender send) {
  std::span<const uint8_t> bytes;
  if (payload != nullptr) {
    if (!Owns(*payload)) {
      return Status::InvalidArgument("the message was built for another channel or stream");
    }
    if (!payload->finished()) {
      return Status::InvalidArgument("the message was not finished (call Finish on its builder)");
    }
    bytes = {payload->fbb().GetBufferPointer(), payload->fbb().GetSize()};
    if (bytes.size() > max_message_bytes_) {
      return Status::ResourceExhausted("message of " + std::to_string(bytes.size()) +
                                       " bytes is over max_message_bytes (" +
                                       std::to_string(max_message_bytes_) + ")");
    }
  }
  const EncodedHeader encoded(header);
  const FrameLink::Part parts[] = {encoded.header(), encoded.padding(), bytes};
  Status sent = send(parts);
  if (sent.ok() && payload != nullptr) *payload = OutgoingMessage();  // its buffer goes back
  return sent;
}

Result<InboundMessage> FrameMessageLink::Receive(std::chrono::steady_clock::time_point deadline) {
  // On failure the engine shuts the link down (after saying why: a peer must not see the
  // connection close before the server's log line is written).
  Result<PooledBuffer> frame = link_->Receive(deadline);
  if (!frame.ok()) return frame.status();
  Result<DecodedFrame> decoded = DecodeCallFrame({frame->data(), frame->size()});
  if (!decoded.ok()) return decoded.status();
  InboundMessage inbound;
  inbound.header = std::move(decoded->fields);
  if (decoded->payload_size > 0) {
    inbound.payload =
        std::move(*frame).ToMessage(decoded->payload_offset, decoded->payload_size);
  }
  return inbound;
}

void FrameMessageLink::Shutdown() {
  down_.store(true, std::memory_order_release);
  link_->Shutdown();
}

}  // namespace ferry::internal
