// Pooled message memory for the socket and queue transports.
#include "call/pool_allocator.h"

#include <algorithm>
#include <cstring>

namespace ferry::internal {

uint8_t* PoolAllocator::allocate(size_t size) {
  held_.push_back(pool_->Take(size));
  return held_.back().data();
}

void PoolAllocator::deallocate(uint8_t* p, size_t) {
  auto found = std::find_if(held_.begin(), held_.end(),
                            [p](const PooledBuffer& buffer) { return buffer.data() == p; });
  if (found != held_.end()) held_.erase(found);  // back to the pool
}

uint8_t* PoolAllocator::reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                                            size_t in_use_back, size_t in_use_front) {
  uint8_t* new_p = allocate(new_size);
  std::memcpy(new_p + new_size - in_use_back, old_p + old_size - in_use_back, in_use_back);
  std::memcpy(new_p, old_p, in_use_front);
  bytes_copied_.fetch_add(in_use_back + in_use_front, std::memory_order_relaxed);
  deallocate(old_p, old_size);
  return new_p;
}

}  // namespace ferry::internal
