// The shared-memory segment's layout: plain data only, shared by two processes that may be
// built from different ferry versions. Offsets and indices, never pointers or vtables.
//
//   SegmentHeader | CallCell[call_count] | RingCell[ring_depth] | cell free stack |
//   per slot class: free stack, then slot_count slots of slot_bytes (4 KiB aligned)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferry::shm {

inline constexpr uint64_t kMagic = 0x3130595252454646ULL;  // "FFERRY01"
// Bump on every incompatible change: a field's width, order or meaning, a new region.
inline constexpr uint32_t kLayoutVersion = 2;
inline constexpr uint32_t kMaxSlotClasses = 8;
inline constexpr uint32_t kNoIndex = 0xffffffffU;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kSlotAlignment = 4096;

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

struct SlotClassHeader {
  uint32_t slot_bytes;
  uint32_t slot_count;
  uint64_t stack_offset;  // IndexStackHeader of free slots
  uint64_t slots_offset;  // first slot
};

// What a client asks of the server: one per call, moved through the request ring.
struct Descriptor {
  uint32_t cell;       // CallCell index the reply goes to
  uint32_t method_id;  // fnv1a32 of "package.Service.Method"
  uint32_t slot;       // slot id holding the request
  uint32_t offset;     // of the request's first byte within the slot
  uint32_t length;     // request bytes
  uint8_t kind;        // ferry::MethodKind
  uint8_t reserved;
  uint16_t client_cpu;  // where the caller ran (a spinning hint for the server), 0xffff unknown
  int64_t deadline_ns;  // CLOCK_MONOTONIC; 0 for none
};

struct RingCell {
  std::atomic<uint64_t> sequence;
  Descriptor descriptor;
};

// A bounded multi-producer multi-consumer queue of descriptors (sequence-numbered cells).
struct alignas(kCacheLine) RingHeader {
  alignas(kCacheLine) std::atomic<uint64_t> enqueue_pos;
  alignas(kCacheLine) std::atomic<uint64_t> dequeue_pos;
  alignas(kCacheLine) std::atomic<uint32_t> signal;  // futex word: bumped on every push
  std::atomic<uint32_t> waiters;                     // consumers sleeping on signal
  uint32_t depth;                                    // a power of two
  // Requests being built right now: while this is non-zero a consumer that can spin keeps
  // spinning (bounded), so a large request finds it awake when it is pushed.
  alignas(kCacheLine) std::atomic<uint32_t> building;
  // A producer found the next cell still claimed by a consumer (preempted between taking a
  // descriptor and releasing its cell): it sleeps on `released`, which a consumer bumps after
  // a release while `stalled_producers` is non-zero.
  alignas(kCacheLine) std::atomic<uint32_t> released;  // futex word
  std::atomic<uint32_t> stalled_producers;
};

// The life of a call cell. The client owns FREE -> PENDING -> WAITING and ABANDONED; the
// server moves PENDING/WAITING -> DONE, or recycles an ABANDONED cell itself.
enum CellState : uint32_t {
  kCellFree = 0,
  kCellPending = 1,    // request sent; client not asleep
  kCellWaiting = 2,    // client asleep on the state word: the server must wake it
  kCellDone = 3,       // reply (or error) written
  kCellAbandoned = 4,  // client stopped waiting (deadline); server frees the reply
};

// Where a call's outcome is written. On success the slot holds the reply FlatBuffer; on
// failure it holds the status message as UTF-8 (or is kNoIndex when there is none).
struct alignas(kCacheLine) CallCell {
  std::atomic<uint32_t> state;  // futex word, CellState
  uint32_t status_code;         // ferry::StatusCode
  uint32_t slot;
  uint32_t offset;
  uint32_t length;
  uint32_t server_cpu;  // where the handler ran (a spinning hint for the client)
};

struct alignas(kCacheLine) SegmentHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t class_count;
  uint64_t segment_bytes;
  uint32_t call_count;
  uint32_t ring_depth;
  uint64_t cells_offset;
  uint64_t ring_offset;
  uint64_t cell_stack_offset;
  SlotClassHeader classes[kMaxSlotClasses];
};

static_assert(sizeof(Descriptor) == 32);
static_assert(sizeof(CallCell) == kCacheLine);
static_assert(offsetof(SegmentHeader, classes) == 56);

}  // namespace ferry::shm
