// A connection's shared-memory segment: an anonymous memfd sealed against resizing, created
// and laid out by the server, passed to the client over the rendezvous socket, mapped on both
// sides with Boost.Interprocess. It never has a name, so nothing of it can outlive the two
// processes, and neither can truncate it under the other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include <boost/interprocess/mapped_region.hpp>

#include "ferry/options.h"
#include "ferry/result.h"
#include "shm/descriptor_ring.h"
#include "shm/index_stack.h"
#include "shm/layout.h"

namespace ferry::shm {

class Segment {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates, sizes (sparse), seals, maps and lays out a new segment. INVALID_ARGUMENT for
  // unusable options, RESOURCE_EXHAUSTED when the system refuses the memory.
  static Result<std::shared_ptr<Segment>> Create(const ShmOptions& options);
  // Maps a segment the server created (taking ownership of `descriptor`), after checking its
  // seals, its size and that its layout is exactly what this runtime computes for the same
  // parameters (DATA_LOSS otherwise).
  static Result<std::shared_ptr<Segment>> Open(int descriptor, uint64_t expected_bytes);
  ~Segment();

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  uint64_t size() const { return header_.segment_bytes; }
  // The creator's descriptor, to pass to the peer; -1 once closed.
  int descriptor() const { return descriptor_; }
  void CloseDescriptor();
  // Client -> server and server -> client.
  DescriptorRing& to_server_ring() { return *to_server_ring_; }
  DescriptorRing& to_client_ring() { return *to_client_ring_; }

  // Null for an invalid slot id.
  uint8_t* SlotBase(uint32_t slot_id);
  size_t SlotCapacity(uint32_t slot_id) const;
  bool ValidSlot(uint32_t slot_id) const;
  // The bytes [offset, offset+length) of a slot, or null when the range leaves the slot.
  uint8_t* Locate(uint32_t slot_id, uint32_t offset, uint32_t length);

  // Takes a free slot of at least `bytes` (from this side's stack, the shared one, then the
  // peer's: see SlotPool), trying larger classes when the best one is empty and waiting for a
  // release until `deadline` (or until `closed` turns true).
  // RESOURCE_EXHAUSTED when `bytes` exceeds the largest class or nothing frees up in time.
  // DATA_LOSS when the shared free list hands out a slot this process already holds (a
  // corrupt or hostile list).
  Result<uint32_t> AcquireSlot(size_t bytes, Clock::time_point deadline,
                               const std::atomic<bool>& closed);
  // Returns a slot (ours, or one the peer handed over) to this side's free stack.
  void ReleaseSlot(uint32_t slot_id);
  // The slot now belongs to the peer (a message was sent in it).
  void HandOver(uint32_t slot_id);
  // True while this process holds the slot (acquired, not yet handed over or released): a
  // peer's message must never name such a slot.
  bool HeldHere(uint32_t slot_id) const;
  size_t largest_slot_bytes() const;

 private:
  Segment(boost::interprocess::mapped_region region, const SegmentHeader& layout, int descriptor,
          SlotPool own, SlotPool peer);
  IndexStack& Stack(uint32_t slot_class, SlotPool pool) {
    return *free_stacks_[slot_class][static_cast<uint32_t>(pool)];
  }

  boost::interprocess::mapped_region region_;
  int descriptor_;
  SegmentHeader header_;  // a private copy of the validated layout
  std::optional<DescriptorRing> to_server_ring_;
  std::optional<DescriptorRing> to_client_ring_;
  // The creator is the server: it frees into SlotPool::kServer, the opener into kClient.
  const SlotPool own_pool_;
  const SlotPool peer_pool_;
  std::optional<IndexStack> free_stacks_[kMaxSlotClasses][kSlotPools];
  // Process-local: which slots this side holds, by slot number across all classes.
  std::unique_ptr<std::atomic<bool>[]> held_;
  uint32_t first_slot_of_class_[kMaxSlotClasses] = {};
  size_t HeldIndex(uint32_t slot_id) const {
    return first_slot_of_class_[SlotClassOf(slot_id)] + SlotIndexOf(slot_id);
  }
};

// The layout a header read from a peer's segment describes, if it is exactly what this
// runtime computes for the same parameters and spans `expected_bytes`; DATA_LOSS otherwise.
Result<SegmentHeader> CheckLayout(const SegmentHeader& seen, uint64_t expected_bytes);

// Computes the offsets of every region for the given parameters: both rings hold
// `messages_in_flight` rounded up to a power of two, at least kMinRingDepth. INVALID_ARGUMENT
// when they cannot be laid out (no class, too many classes, a class not a multiple of 64
// bytes...).
Result<SegmentHeader> ComputeLayout(uint32_t messages_in_flight,
                                    const std::vector<SlotClass>& classes);

}  // namespace ferry::shm
