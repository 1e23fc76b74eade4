// The shared-memory segment's layout: plain data only, shared by two processes that may be
// built from different ferry versions. Offsets and indices, never pointers or vtables.
//
//   SegmentHeader | client -> server ring | server -> client ring |
//   per slot class: three free stacks (shared, client's, server's), then slot_count slots of
//   slot_bytes (4 KiB aligned)
// where each ring is a RingHeader and ring_depth RingCells.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferry::shm {

inline constexpr uint64_t kMagic = 0x3130595252454646ULL;  // "FFERRY01"
// Bump on every incompatible change: a field's width, order or meaning, a new region.
inline constexpr uint32_t kLayoutVersion = 6;
inline constexpr uint32_t kMaxSlotClasses = 8;
inline constexpr uint32_t kNoIndex = 0xffffffffU;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kSlotAlignment = 4096;
// Rings are never shallower: a connection's replies, stream messages and control frames share
// one ring each way.
inline constexpr uint32_t kMinRingDepth = 256;

static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// A slot id names a slot: the class in the top 8 bits, the index within the class below.
inline constexpr uint32_t MakeSlotId(uint32_t slot_class, uint32_t index) {
  return (slot_class << 24) | index;
}
inline constexpr uint32_t SlotClassOf(uint32_t slot_id) { return slot_id >> 24; }
inline constexpr uint32_t SlotIndexOf(uint32_t slot_id) { return slot_id & 0xffffffU; }
inline constexpr uint32_t kMaxSlotsPerClass = 1U << 24;

// Head of a lock-free stack of indices (a free list), followed in memory by one
// std::atomic<uint32_t> "next" link per element.
struct alignas(kCacheLine) IndexStackHeader {
  std::atomic<uint64_t> head;     // (ABA tag << 32) | top index, kNoIndex when empty
  std::atomic<uint32_t> epoch;    // futex word: bumped on every push
  std::atomic<uint32_t> waiters;  // threads sleeping on epoch
  uint32_t capacity;
};

// Where a class's free slots wait. Each side takes from its own stack first and returns what it
// frees there, so that steady traffic touches no line the other side writes (a request's slot,
// freed by the server, carries its reply; the reply's, freed by the client, its next request).
// The shared stack holds every slot at first; a side whose own stack is empty takes from the
// shared one, then from the peer's.
enum class SlotPool : uint32_t { kShared = 0, kClient = 1, kServer = 2 };
inline constexpr uint32_t kSlotPools = 3;

struct SlotClassHeader {
  uint32_t slot_bytes;
  uint32_t slot_count;
  uint64_t stacks_offset;  // kSlotPools IndexStacks of free slots, FreeStackBytes() apart
  uint64_t slots_offset;   // first slot
};

// One free stack: its header and a link per slot, whole cache lines.
inline constexpr uint64_t FreeStackBytes(uint32_t slot_count) {
  const uint64_t bytes = sizeof(IndexStackHeader) + sizeof(std::atomic<uint32_t>) * slot_count;
  return (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
}
inline constexpr uint64_t FreeStackOffset(const SlotClassHeader& c, SlotPool pool) {
  return c.stacks_offset + FreeStackBytes(c.slot_count) * static_cast<uint32_t>(pool);
}

// One message of a call (a CallHeader without its status message, and where its payload
// lies), moved through a ring. Written by the sender; the receiver copies it out of the ring
// once and trusts nothing in it (see ShmLink::Receive).
struct Descriptor {
  uint64_t call_id;
  // Two fields serve the frame types that need them, so that a ring cell is one cache line
  // (cells sharing lines cost a stream of small messages a fifth of its rate across CPUs).
  // kRequest: DeadlineToWire(), relative, 0 for none; kWindow: payload bytes acknowledged.
  uint64_t deadline_us_or_acked_bytes;
  uint64_t window_bytes;  // kRequest, kWindow
  // The slot holding the payload, or for a kReply with a non-zero status code its status
  // message as UTF-8 (the receiver copies it and frees the slot at once); kNoIndex for none.
  uint32_t slot;
  uint32_t offset;  // of the payload's first byte within the slot
  uint32_t length;  // payload bytes
  // kRequest: the method id (fnv1a32 of "package.Service.Method"); kReply: a
  // ferry::StatusCode; kWindow: messages acknowledged.
  uint32_t method_status_or_acked_messages;
  uint32_t window_messages;  // kRequest, kWindow
  uint8_t type;              // FrameType; a receiver ends the link on a value it does not know
  uint8_t kind;              // kRequest: ferry::MethodKind
  uint16_t sender_cpu;       // where the sender ran (a spinning hint), 0xffff unknown
  // When it was pushed (steady clock, ns; both processes share the host's clock): tells the
  // receiver how soon messages come after it starts waiting (a spinning hint).
  uint64_t pushed_ns;
};

struct alignas(kCacheLine) RingCell {
  std::atomic<uint64_t> sequence;
  Descriptor descriptor;
};
static_assert(sizeof(RingCell) == kCacheLine, "a ring cell is one cache line");

// A bounded multi-producer multi-consumer queue of descriptors (sequence-numbered cells): one
// per direction.
struct alignas(kCacheLine) RingHeader {
  alignas(kCacheLine) std::atomic<uint64_t> enqueue_pos;
  alignas(kCacheLine) std::atomic<uint64_t> dequeue_pos;
  alignas(kCacheLine) std::atomic<uint32_t> signal;  // futex word: bumped on every push
  std::atomic<uint32_t> waiters;  // 1: a consumer may sleep on signal (the next push clears it)
  uint32_t depth;                                    // a power of two
  // Messages being built right now (client to server only): while this is non-zero a consumer
  // that can spin keeps spinning (bounded), so a large request finds it awake when it is pushed.
  alignas(kCacheLine) std::atomic<uint32_t> building;
  // A producer found the next cell still claimed (a full ring, or a consumer preempted between
  // taking a descriptor and releasing its cell): it sleeps on `released`, which a consumer
  // bumps after a release while `stalled_producers` is non-zero.
  alignas(kCacheLine) std::atomic<uint32_t> released;  // futex word
  std::atomic<uint32_t> stalled_producers;
};

struct alignas(kCacheLine) SegmentHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t class_count;
  uint64_t segment_bytes;
  uint32_t ring_depth;  // of both rings
  uint32_t reserved;    // 0
  uint64_t to_server_ring_offset;  // client -> server: requests, cancels, stream messages,
                                   // half-closes, windows
  uint64_t to_client_ring_offset;  // server -> client: replies, stream messages, windows
  SlotClassHeader classes[kMaxSlotClasses];
};

static_assert(sizeof(Descriptor) == 56);
static_assert(offsetof(SegmentHeader, classes) == 48);

}  // namespace ferry::shm
