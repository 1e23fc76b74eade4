// Builder memory from slot pools: allocations are placed at the end of a slot so that growth
// within the slot moves nothing; growth across classes copies (and counts) the bytes.
#include "shm/slot_allocator.h"

#include <cstring>

#include "os/deadline.h"

namespace ferry::shm {

SlotAllocator::SlotAllocator(std::shared_ptr<void> owner, Segment& segment,
                             std::chrono::milliseconds slot_wait,
                             std::atomic<uint64_t>& bytes_copied, const std::atomic<bool>& closed,
                             DescriptorRing* building)
    : owner_(std::move(owner)),
      segment_(segment),
      slot_wait_(slot_wait),
      bytes_copied_(bytes_copied),
      closed_(closed),
      building_(building) {}

SlotAllocator::~SlotAllocator() {
  EndBuilding();
  if (slot_ != kNoIndex) segment_.ReleaseSlot(slot_);
  delete[] heap_;
}

bool SlotAllocator::InSlot(const uint8_t* p) const {
  if (slot_ == kNoIndex) return false;
  const uint8_t* base = segment_.SlotBase(slot_);
  return p >= base && p < base + segment_.SlotCapacity(slot_);
}

uint8_t* SlotAllocator::allocate(size_t size) {
  // A builder holds one buffer at a time, so at most one slot is ours here. Once a message is
  // built on the heap it stays there while it grows (Place copies it into a slot once), and
  // one too large for any slot can never be sent.
  if (size > segment_.largest_slot_bytes() && failure_.ok()) {
    failure_ = Status::ResourceExhausted(
        "message of " + std::to_string(size) + " bytes exceeds the largest shared-memory slot (" +
        std::to_string(segment_.largest_slot_bytes()) + " bytes)");
  }
  if (failure_.ok() && !on_heap_) {
    Result<uint32_t> slot = segment_.AcquireSlot(size, internal::DeadlineAfter(slot_wait_), closed_);
    if (slot.ok()) {
      if (slot_ != kNoIndex) segment_.ReleaseSlot(slot_);
      slot_ = *slot;
      return segment_.SlotBase(slot_) + segment_.SlotCapacity(slot_) - size;
    }
    if (slot.status().code() != StatusCode::kResourceExhausted) failure_ = slot.status();
  }
  // No slot free right now (or never sendable): FlatBuffers cannot take a null buffer, so
  // build on the heap.
  on_heap_ = true;
  heap_ = new uint8_t[size];
  return heap_;
}

Result<uint8_t*> SlotAllocator::Place(const uint8_t* data, size_t length,
                                      std::chrono::steady_clock::time_point deadline) {
  if (!failure_.ok()) return failure_;
  if (!on_heap_) return const_cast<uint8_t*>(data);  // built in its slot
  Result<uint32_t> slot = segment_.AcquireSlot(length, deadline, closed_);
  if (!slot.ok()) return slot.status();
  slot_ = *slot;
  uint8_t* placed = segment_.SlotBase(slot_) + segment_.SlotCapacity(slot_) - length;
  std::memcpy(placed, data, length);
  bytes_copied_.fetch_add(length, std::memory_order_relaxed);
  return placed;
}

void SlotAllocator::deallocate(uint8_t* p, size_t) {
  if (InSlot(p)) {
    segment_.ReleaseSlot(std::exchange(slot_, kNoIndex));
  } else if (p != nullptr && p == heap_) {
    delete[] std::exchange(heap_, nullptr);
  }  // else: a detached slot, now the peer's to free
}

uint8_t* SlotAllocator::reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                                            size_t in_use_back, size_t in_use_front) {
  if (InSlot(old_p) && new_size <= segment_.SlotCapacity(slot_)) {
    // Same slot, larger view: the back part already sits at the slot's end; only the
    // builder's scratch at the front moves down.
    uint8_t* new_p = segment_.SlotBase(slot_) + segment_.SlotCapacity(slot_) - new_size;
    std::memmove(new_p, old_p, in_use_front);
    bytes_copied_.fetch_add(in_use_front, std::memory_order_relaxed);
    return new_p;
  }
  // The old buffer is released however this ends (allocate may throw std::bad_alloc).
  struct OldBuffer {
    Segment& segment;
    uint32_t slot;
    uint8_t* heap;
    ~OldBuffer() {
      if (slot != kNoIndex) segment.ReleaseSlot(slot);
      delete[] heap;
    }
  } old{segment_, std::exchange(slot_, kNoIndex), std::exchange(heap_, nullptr)};
  uint8_t* new_p = allocate(new_size);
  std::memcpy(new_p + new_size - in_use_back, old_p + old_size - in_use_back, in_use_back);
  std::memcpy(new_p, old_p, in_use_front);
  bytes_copied_.fetch_add(in_use_back + in_use_front, std::memory_order_relaxed);
  return new_p;
}

}  // namespace ferry::shm
