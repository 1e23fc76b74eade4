// Receive buffers for socket and queue transports, recycled so that a steady stream of calls
// allocates nothing. A received message is read in place in its buffer; releasing the
// message's view gives the buffer back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ferry/message.h"

namespace ferry::internal {

class BufferPool;

// One buffer, at least 16-byte aligned. Move-only; returns itself to its pool when destroyed.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&& other) noexcept = default;
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;
  ~PooledBuffer();

  uint8_t* data() const { return bytes_.get(); }
  size_t capacity() const { return capacity_; }
  // Bytes in use (set by whoever fills the buffer).
  size_t size() const { return size_; }
  void set_size(size_t size) { size_ = size; }

  // Hands the buffer over as a received message whose bytes are [offset, offset + length).
  IncomingMessage ToMessage(size_t offset, size_t length) &&;

 private:
  friend class BufferPool;
  std::unique_ptr<uint8_t[]> bytes_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  std::shared_ptr<BufferPool> pool_;
};

// Keeps up to `max_idle_bytes` of released buffers for reuse, in power-of-two sizes from 4 KiB.
// Thread-safe.
class BufferPool final : public MessageOwner, public std::enable_shared_from_this<BufferPool> {
 public:
  static std::shared_ptr<BufferPool> Create(size_t max_idle_bytes = 64 * 1024 * 1024);

  // A buffer of at least `size` bytes (its size() set to `size`).
  PooledBuffer Take(size_t size);
  // Idle bytes held for reuse (for tests).
  size_t idle_bytes() const;

  void ReleaseMessage(uint64_t token) override;

 private:
  friend class PooledBuffer;
  explicit BufferPool(size_t max_idle_bytes) : max_idle_bytes_(max_idle_bytes) {}
  void Give(std::unique_ptr<uint8_t[]> bytes, size_t capacity);

  const size_t max_idle_bytes_;
  mutable std::mutex mutex_;
  std::vector<std::vector<std::unique_ptr<uint8_t[]>>> idle_;  // by log2(capacity / 4 KiB)
  size_t idle_bytes_ = 0;
};

}  // namespace ferry::internal
