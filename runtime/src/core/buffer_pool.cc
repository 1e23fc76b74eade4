// Recycling receive buffers in power-of-two size classes, with a bound on idle memory.
#include "core/buffer_pool.h"

#include <bit>
#include <utility>

namespace ferry::internal {
namespace {

constexpr size_t kSmallest = 4096;

size_t ClassOf(size_t capacity) {
  return static_cast<size_t>(std::countr_zero(capacity / kSmallest));
}

size_t CapacityFor(size_t size) { return std::bit_ceil(std::max(size, kSmallest)); }

}  // namespace

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    if (pool_ && bytes_) pool_->Give(std::move(bytes_), capacity_);
    bytes_ = std::move(other.bytes_);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
    pool_ = std::move(other.pool_);
  }
  return *this;
}

PooledBuffer::~PooledBuffer() {
  if (pool_ && bytes_) pool_->Give(std::move(bytes_), capacity_);
}

IncomingMessage PooledBuffer::ToMessage(size_t offset, size_t length) && {
  std::shared_ptr<BufferPool> pool = std::move(pool_);
  const uint8_t* data = bytes_.get() + offset;
  // The token carries the buffer and its capacity class back to ReleaseMessage.
  auto* owned = new PooledBuffer();
  owned->bytes_ = std::move(bytes_);
  owned->capacity_ = std::exchange(capacity_, 0);
  owned->pool_ = pool;
  size_ = 0;
  return IncomingMessage(data, length, std::move(pool), reinterpret_cast<uint64_t>(owned));
}

std::shared_ptr<BufferPool> BufferPool::Create(size_t max_idle_bytes) {
  return std::shared_ptr<BufferPool>(new BufferPool(max_idle_bytes));
}

PooledBuffer BufferPool::Take(size_t size) {
  const size_t capacity = CapacityFor(size);
  PooledBuffer buffer;
  {
    std::lock_guard lock(mutex_);
    const size_t index = ClassOf(capacity);
    if (index < idle_.size() && !idle_[index].empty()) {
      buffer.bytes_ = std::move(idle_[index].back());
      idle_[index].pop_back();
      idle_bytes_ -= capacity;
    }
  }
  if (!buffer.bytes_) buffer.bytes_.reset(new uint8_t[capacity]);
  buffer.capacity_ = capacity;
  buffer.size_ = size;
  buffer.pool_ = shared_from_this();
  return buffer;
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return idle_bytes_;
}

void BufferPool::ReleaseMessage(uint64_t token) {
  delete reinterpret_cast<PooledBuffer*>(token);  // its destructor gives the bytes back
}

void BufferPool::Give(std::unique_ptr<uint8_t[]> bytes, size_t capacity) {
  std::lock_guard lock(mutex_);
  if (idle_bytes_ + capacity > max_idle_bytes_) return;  // freed as `bytes` goes
  const size_t index = ClassOf(capacity);
  if (idle_.size() <= index) idle_.resize(index + 1);
  idle_[index].push_back(std::move(bytes));
  idle_bytes_ += capacity;
}

}  // namespace ferry::internal
