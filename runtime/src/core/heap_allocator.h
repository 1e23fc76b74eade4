// The flatbuffers::Allocator behind outgoing messages on sockets and queues: plain heap
// memory (the transport gathers it straight into the socket or queue), with a size limit and
// every growth copy counted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ferry/message.h"

namespace ferry::internal {

class HeapAllocator final : public MessageAllocator {
 public:
  // `bytes_copied` must outlive the allocator: `owner` keeps whoever holds it alive.
  HeapAllocator(std::shared_ptr<void> owner, uint64_t max_bytes,
                std::atomic<uint64_t>& bytes_copied)
      : owner_(std::move(owner)), max_bytes_(max_bytes), bytes_copied_(bytes_copied) {}

  uint8_t* allocate(size_t size) override;
  void deallocate(uint8_t* p, size_t size) override;
  uint8_t* reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                               size_t in_use_back, size_t in_use_front) override;
  // Heap memory can always be sent; the size limit is checked when the message is sent.
  Status Usable() const override { return Status::Ok(); }
  uint64_t max_bytes() const { return max_bytes_; }
  // True when the message was built for the transport that counts into `bytes_copied`.
  bool BelongsTo(const std::atomic<uint64_t>& bytes_copied) const {
    return &bytes_copied == &bytes_copied_;
  }

 private:
  std::shared_ptr<void> owner_;
  const uint64_t max_bytes_;
  std::atomic<uint64_t>& bytes_copied_;
};

}  // namespace ferry::internal
