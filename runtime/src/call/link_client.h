// The client's end of a socket or queue connection: calls multiplexed by call id over one
// FrameLink. There is no reader thread: a waiting caller takes the receiving role, reads
// frames and hands other callers their replies until its own arrives, then passes the role
// on. A lone caller therefore reads its own reply, with no thread hand-off.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "call/client_transport.h"
#include "call/frame_link.h"

namespace ferry::internal {

class LinkClient final : public ClientTransport,
                         public std::enable_shared_from_this<LinkClient> {
 public:
  // Takes over a link whose handshake is done. `max_message_bytes` bounds requests (the
  // smaller of the client's and the server's limits).
  static std::shared_ptr<LinkClient> Start(std::unique_ptr<FrameLink> link, std::string endpoint,
                                           uint64_t max_message_bytes);
  // Shuts the link down: the server then drops the connection.
  ~LinkClient() override;

  std::string_view name() const override { return link_->name(); }
  const std::string& endpoint() const override { return endpoint_; }
  bool connected() const override { return !closed_.load(std::memory_order_acquire); }
  // Growth copies while building requests, plus what the link copied.
  uint64_t bytes_copied() const override {
    return growth_copied_.load(std::memory_order_relaxed) + link_->bytes_copied();
  }
  OutgoingMessage NewMessage(size_t size_hint) override;
  Result<IncomingMessage> Call(uint32_t method_id, MethodKind kind, OutgoingMessage request,
                               const CallOptions& options) override;

 private:
  struct Pending {
    bool done = false;
    Status status;
    IncomingMessage reply;
    std::condition_variable cv;
  };

  LinkClient(std::unique_ptr<FrameLink> link, std::string endpoint, uint64_t max_message_bytes);
  // Waits for `pending` (call `id`), reading frames while nobody else does. With mutex_ held.
  Status AwaitReply(uint64_t id, Pending& pending, std::chrono::steady_clock::time_point deadline,
                    std::unique_lock<std::mutex>& lock);
  // Hands one received frame to its caller; false when the server broke the protocol.
  bool Deliver(PooledBuffer frame);
  void FailAll(const Status& why);
  void SendCancel(uint64_t id);

  std::unique_ptr<FrameLink> link_;
  const std::string endpoint_;
  const uint64_t max_message_bytes_;
  const std::shared_ptr<BufferPool> send_pool_;  // requests are built in its buffers
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> growth_copied_{0};

  std::mutex mutex_;
  uint64_t next_call_id_ = 1;
  bool reading_ = false;  // a caller holds the receiving role
  std::unordered_map<uint64_t, Pending*> pending_;
  Status closed_status_;  // why the connection ended, for calls made afterwards
};

}  // namespace ferry::internal
