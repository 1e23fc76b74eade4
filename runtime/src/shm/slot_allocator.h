// The flatbuffers::Allocator behind every outgoing message on shared memory: the builder's
// buffer is the tail of a slot, so a finished message is already where the peer reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "ferry/message.h"
#include "ferry/result.h"
#include "shm/layout.h"
#include "shm/segment.h"

namespace ferry::shm {

class SlotAllocator final : public internal::MessageAllocator {
 public:
  // `bytes_copied` counts every byte this allocator moves when a message grows; `closed` stops
  // waits for a slot early. Both must outlive the allocator (they live in the connection,
  // which the allocator keeps alive through `owner`).
  // A client's request allocator passes the request ring as `building`: the message counts as
  // "being built" there from construction until Detach() or destruction.
  SlotAllocator(std::shared_ptr<void> owner, Segment& segment, std::chrono::milliseconds slot_wait,
                std::atomic<uint64_t>& bytes_copied, const std::atomic<bool>& closed,
                DescriptorRing* building = nullptr);
  ~SlotAllocator() override;

  uint8_t* allocate(size_t size) override;
  void deallocate(uint8_t* p, size_t size) override;
  uint8_t* reallocate_downward(uint8_t* old_p, size_t old_size, size_t new_size,
                               size_t in_use_back, size_t in_use_front) override;
  Status Usable() const override { return failure_; }

  // True when `segment` is the memory this allocator lends (a message built for one
  // connection cannot be sent on another).
  bool BelongsTo(const Segment& segment) const { return &segment == &segment_; }
  // Where a finished message of `length` bytes at `data` is sent from: in place when the
  // builder wrote in a slot; otherwise (no slot was free within slot_wait while building) it is
  // copied, once, into a slot it waits for until `deadline` or `closed` (the copy is counted).
  // RESOURCE_EXHAUSTED when no slot freed up in time.
  Result<uint8_t*> Place(const uint8_t* data, size_t length,
                         std::chrono::steady_clock::time_point deadline);
  // Hands the current slot over to the peer: this allocator will not free it.
  uint32_t Detach() {
    segment_.HandOver(slot_);
    return std::exchange(slot_, kNoIndex);
  }
  // The message is no longer being built (it was sent, or is being dropped).
  void EndBuilding() {
    if (building_ != nullptr) std::exchange(building_, nullptr)->EndBuilding();
  }

 private:
  bool InSlot(const uint8_t* p) const;

  std::shared_ptr<void> owner_;
  Segment& segment_;
  std::chrono::milliseconds slot_wait_;  // kept in the options' unit: no overflow
  std::atomic<uint64_t>& bytes_copied_;
  const std::atomic<bool>& closed_;
  uint32_t slot_ = kNoIndex;    // the slot the builder writes in, if any
  uint8_t* heap_ = nullptr;     // or the heap buffer it builds in until Place()
  bool on_heap_ = false;        // no slot was free: built on the heap from then on
  DescriptorRing* building_;    // where this message counts as being built, if anywhere
  Status failure_;
};

}  // namespace ferry::shm
