// A MessageLink over a FrameLink (unix://, tcp://, mq://): each message is one frame, the
// CallHeader encoded before the payload (call/call_frame.h). Payloads are built in pooled
// buffers and gathered into the frame without a staging copy; received payloads are read in
// place in the frame's buffer.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>

#include "call/buffer_pool.h"
#include "call/frame_link.h"
#include "call/message_link.h"

namespace ferry::internal {

class FrameMessageLink final : public MessageLink,
                               public std::enable_shared_from_this<FrameMessageLink> {
 public:
  // `max_message_bytes` bounds payloads sent (the peer's limit). `send_pool`: where outgoing
  // payloads are built; null uses the link's own pool, or a fresh one.
  static std::shared_ptr<FrameMessageLink> Create(std::unique_ptr<FrameLink> link,
                                                  uint64_t max_message_bytes,
                                                  std::shared_ptr<BufferPool> send_pool = nullptr);
  ~FrameMessageLink() override;

  std::string_view name() const override { return link_->name(); }
  OutgoingMessage NewMessage(size_t size_hint) override;
  bool Owns(const OutgoingMessage& message) const override;
  Status Send(const CallHeader& header, OutgoingMessage* payload,
              std::chrono::steady_clock::time_point deadline) override;
  Status SendBatched(const CallHeader& header, OutgoingMessage* payload,
                     std::chrono::steady_clock::time_point deadline) override;
  void Flush() override { link_->Flush(); }
  bool InboundReady() const override { return link_->FrameReady(); }
  bool Batches() const override { return true; }
  Result<InboundMessage> Receive(std::chrono::steady_clock::time_point deadline) override;
  void Shutdown() override;
  void CloseWrites() override { link_->CloseWrites(); }
  bool connected() const override { return !down_.load(std::memory_order_acquire); }
  bool PeerGone() const override { return !connected() || link_->PeerGone(); }
  uint64_t bytes_copied() const override {
    return growth_copied_.load(std::memory_order_relaxed) + link_->bytes_copied();
  }
  uint64_t max_message_bytes() const override { return max_message_bytes_; }

 private:
  FrameMessageLink(std::unique_ptr<FrameLink> link, uint64_t max_message_bytes,
                   std::shared_ptr<BufferPool> send_pool);

  // Send and SendBatched: checks `payload` and hands the frame to `send`.
  template <class Sender>
  Status SendFrame(const CallHeader& header, OutgoingMessage* payload, Sender send);

  std::unique_ptr<FrameLink> link_;
  const uint64_t max_message_bytes_;
  const std::shared_ptr<BufferPool> send_pool_;
  std::atomic<bool> down_{false};
  std::atomic<uint64_t> growth_copied_{0};
};

}  // namespace ferry::internal
