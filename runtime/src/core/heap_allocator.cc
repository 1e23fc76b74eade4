// Heap-backed message memory for the socket and queue transports.
#include "core/heap_allocator.h"

#include <cstring>

namespace ferry::internal {

uint8_t* HeapAllocator::allocate(size_t size) { return new uint8_t[size]; }

void HeapAllocator::deallocate(uint8_t* p, size_t) { delete[] p; }

uint8_t* HeapAllocator::reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                                            size_t in_use_back, size_t in_use_front) {
  std::unique_ptr<uint8_t[]> old(old_p);  // released however this ends
  uint8_t* new_p = allocate(new_size);
  std::memcpy(new_p + new_size - in_use_back, old_p + old_size - in_use_back, in_use_back);
  std::memcpy(new_p, old_p, in_use_front);
  bytes_copied_.fetch_add(in_use_back + in_use_front, std::memory_order_relaxed);
  return new_p;
}

}  // namespace ferry::internal
