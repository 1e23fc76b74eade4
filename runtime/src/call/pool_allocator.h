// The flatbuffers::Allocator behind outgoing messages on sockets and queues: buffers from a
// BufferPool (a stream of large messages reuses the same few buffers instead of paying for
// fresh pages and their release on every call), gathered straight into the socket or queue,
// with every growth copy counted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "call/buffer_pool.h"
#include "ferry/message.h"

namespace ferry::internal {

class PoolAllocator final : public MessageAllocator {
 public:
  // `bytes_copied` must outlive the allocator: `owner` keeps whoever holds it alive.
  PoolAllocator(std::shared_ptr<void> owner, std::shared_ptr<BufferPool> pool,
                std::atomic<uint64_t>& bytes_copied)
      : owner_(std::move(owner)), pool_(std::move(pool)), bytes_copied_(bytes_copied) {}

  uint8_t* allocate(size_t size) override;
  void deallocate(uint8_t* p, size_t size) override;
  uint8_t* reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                               size_t in_use_back, size_t in_use_front) override;
  // Pool memory can always be sent; the transport checks the size limit when sending.
  Status Usable() const override { return Status::Ok(); }
  // True when the message was built for the transport that counts into `bytes_copied`.
  bool BelongsTo(const std::atomic<uint64_t>& bytes_copied) const {
    return &bytes_copied == &bytes_copied_;
  }

 private:
  std::shared_ptr<void> owner_;
  std::shared_ptr<BufferPool> pool_;
  std::atomic<uint64_t>& bytes_copied_;
  std::vector<PooledBuffer> held_;  // the builder's buffer (two while it grows)
};

}  // namespace ferry::internal
