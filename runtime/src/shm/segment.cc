// Creating, opening and laying out the per-connection segment; slot acquisition.
#include "shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>


namespace ferry::shm {
namespace bip = boost::interprocess;

namespace {

constexpr uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

uint32_t NextPowerOfTwo(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// The header's fields end before its tail padding; comparing them byte for byte is exact.
constexpr size_t kHeaderFieldBytes =
    offsetof(SegmentHeader, classes) + sizeof(SlotClassHeader) * kMaxSlotClasses;
static_assert(sizeof(SlotClassHeader) == 24, "no padding inside SlotClassHeader");

// Seals every segment carries: no peer may shrink (SIGBUS for the other) or grow it.
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW;

Status Errno(StatusCode code, const std::string& what) {
  return Status(code, what + ": " + std::strerror(errno));
}

// Boost.Interprocess maps any "memory mappable" object; this one is a plain descriptor.
class DescriptorMapping {
 public:
  explicit DescriptorMapping(int fd) : fd_(fd) {}
  bip::mapping_handle_t get_mapping_handle() const {
    bip::mapping_handle_t handle;
    handle.handle = fd_;
    handle.is_xsi = false;
    return handle;
  }

 private:
  int fd_;
};

}  // namespace

Result<SegmentHeader> ComputeLayout(uint32_t messages_in_flight,
                                    const std::vector<SlotClass>& classes) {
  if (classes.empty() || classes.size() > kMaxSlotClasses) {
    return Status::InvalidArgument("shared memory needs 1 to " + std::to_string(kMaxSlotClasses) +
                                   " slot classes");
  }
  if (messages_in_flight == 0 || messages_in_flight > 65536) {
    return Status::InvalidArgument("max_calls_in_flight must be within 1..65536");
  }
  SegmentHeader h{};
  h.magic = kMagic;
  h.layout_version = kLayoutVersion;
  h.class_count = static_cast<uint32_t>(classes.size());
  h.ring_depth = std::max(kMinRingDepth, NextPowerOfTwo(messages_in_flight));
  uint64_t at = AlignUp(sizeof(SegmentHeader), kCacheLine);
  h.to_server_ring_offset = at;
  at = AlignUp(at + DescriptorRing::BytesFor(h.ring_depth), kCacheLine);
  h.to_client_ring_offset = at;
  at = AlignUp(at + DescriptorRing::BytesFor(h.ring_depth), kCacheLine);
  uint32_t previous = 0;
  for (size_t i = 0; i < classes.size(); ++i) {
    const SlotClass& c = classes[i];
    if (c.slot_bytes == 0 || c.slot_bytes % kCacheLine != 0 || c.slot_bytes <= previous ||
        c.slot_count == 0 || c.slot_count >= kMaxSlotsPerClass) {
      return Status::InvalidArgument(
          "slot classes must grow strictly, be multiples of 64 bytes and hold 1..2^24-1 slots");
    }
    previous = c.slot_bytes;
    SlotClassHeader& out = h.classes[i];
    out.slot_bytes = c.slot_bytes;
    out.slot_count = c.slot_count;
    out.stacks_offset = at;
    at = AlignUp(at + FreeStackBytes(c.slot_count) * kSlotPools, kSlotAlignment);
    out.slots_offset = at;
    at = AlignUp(at + uint64_t{c.slot_bytes} * c.slot_count, kSlotAlignment);
  }
  h.segment_bytes = at;
  return h;
}

Result<SegmentHeader> CheckLayout(const SegmentHeader& seen, uint64_t expected_bytes) {
  if (seen.magic != kMagic || seen.layout_version != kLayoutVersion) {
    return Status::DataLoss("the segment has another layout version (peer runs another ferry)");
  }
  std::vector<SlotClass> classes;
  for (uint32_t i = 0; i < std::min(seen.class_count, kMaxSlotClasses); ++i) {
    classes.push_back({seen.classes[i].slot_bytes, seen.classes[i].slot_count});
  }
  // The depth recomputes to itself exactly when it is a valid one.
  Result<SegmentHeader> layout = ComputeLayout(seen.ring_depth, classes);
  if (!layout.ok() || seen.class_count > kMaxSlotClasses ||
      std::memcmp(&*layout, &seen, kHeaderFieldBytes) != 0 ||
      layout->segment_bytes != expected_bytes) {
    return Status::DataLoss("the segment has an inconsistent layout");
  }
  return layout;
}

Segment::Segment(bip::mapped_region region, const SegmentHeader& layout, int descriptor,
                 SlotPool own, SlotPool peer)
    : region_(std::move(region)),
      descriptor_(descriptor),
      header_(layout),
      own_pool_(own),
      peer_pool_(peer) {
  auto* base = static_cast<uint8_t*>(region_.get_address());
  to_server_ring_.emplace(reinterpret_cast<RingHeader*>(base + header_.to_server_ring_offset),
                         header_.ring_depth);
  to_client_ring_.emplace(reinterpret_cast<RingHeader*>(base + header_.to_client_ring_offset),
                         header_.ring_depth);
  uint32_t slots = 0;
  for (uint32_t i = 0; i < header_.class_count; ++i) {
    first_slot_of_class_[i] = slots;
    slots += header_.classes[i].slot_count;
  }
  held_ = std::make_unique<std::atomic<bool>[]>(slots);
  for (uint32_t i = 0; i < header_.class_count; ++i) {
    for (const SlotPool pool : {SlotPool::kShared, SlotPool::kClient, SlotPool::kServer}) {
      free_stacks_[i][static_cast<uint32_t>(pool)].emplace(
          reinterpret_cast<IndexStackHeader*>(base + FreeStackOffset(header_.classes[i], pool)),
          header_.classes[i].slot_count);
    }
  }
}

Segment::~Segment() { CloseDescriptor(); }

void Segment::CloseDescriptor() {
  if (descriptor_ >= 0) close(std::exchange(descriptor_, -1));
}

Result<std::shared_ptr<Segment>> Segment::Create(const ShmOptions& options) {
  Result<SegmentHeader> layout = ComputeLayout(options.max_calls_in_flight, options.slot_classes);
  if (!layout.ok()) return layout.status();
  const int fd = memfd_create("ferry-connection", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Errno(StatusCode::kResourceExhausted, "memfd_create");
  if (ftruncate(fd, static_cast<off_t>(layout->segment_bytes)) != 0 ||
      fcntl(fd, F_ADD_SEALS, kRequiredSeals | F_SEAL_SEAL) != 0) {
    const Status failed = Errno(StatusCode::kResourceExhausted, "sizing the segment");
    close(fd);
    return failed;
  }
  try {
    bip::mapped_region region(DescriptorMapping(fd), bip::read_write);
    auto* base = static_cast<uint8_t*>(region.get_address());
    auto* header = new (base) SegmentHeader(*layout);
    for (const uint64_t offset : {header->to_server_ring_offset, header->to_client_ring_offset}) {
      DescriptorRing::Initialize(new (base + offset) RingHeader{}, header->ring_depth);
    }
    for (uint32_t i = 0; i < header->class_count; ++i) {
      for (const SlotPool pool : {SlotPool::kShared, SlotPool::kClient, SlotPool::kServer}) {
        auto* stack =
            new (base + FreeStackOffset(header->classes[i], pool)) IndexStackHeader{};
        IndexStack::Initialize(stack, header->classes[i].slot_count,
                               pool == SlotPool::kShared ? IndexStack::Fill::kFull
                                                         : IndexStack::Fill::kEmpty);
      }
    }
    // No fence needed: the peer reads this layout only after our Welcome went through the
    // socket, and the system calls order the writes before its reads.
    return std::shared_ptr<Segment>(
        new Segment(std::move(region), *layout, fd, SlotPool::kServer, SlotPool::kClient));
  } catch (const bip::interprocess_exception& e) {
    close(fd);
    return Status::ResourceExhausted(std::string("cannot map the segment: ") + e.what());
  }
}

Result<std::shared_ptr<Segment>> Segment::Open(int descriptor, uint64_t expected_bytes) {
  struct Closer {
    int fd;
    ~Closer() { close(fd); }  // the mapping outlives the descriptor
  } closer{descriptor};
  const int seals = fcntl(descriptor, F_GET_SEALS);
  if (seals < 0 || (seals & kRequiredSeals) != kRequiredSeals) {
    return Status::DataLoss("the segment is not sealed against resizing");
  }
  struct stat st {};
  if (fstat(descriptor, &st) != 0 || static_cast<uint64_t>(st.st_size) != expected_bytes ||
      expected_bytes < sizeof(SegmentHeader)) {
    return Status::DataLoss("the segment has an unexpected size");
  }
  try {
    bip::mapped_region region(DescriptorMapping(descriptor), bip::read_write);
    SegmentHeader seen;
    std::memcpy(&seen, region.get_address(), sizeof(seen));
    Result<SegmentHeader> layout = CheckLayout(seen, expected_bytes);
    if (!layout.ok()) return layout.status();
    return std::shared_ptr<Segment>(
        new Segment(std::move(region), *layout, -1, SlotPool::kClient, SlotPool::kServer));
  } catch (const bip::interprocess_exception& e) {
    return Status::ResourceExhausted(std::string("cannot map the segment: ") + e.what());
  }
}

bool Segment::ValidSlot(uint32_t slot_id) const {
  const uint32_t c = SlotClassOf(slot_id);
  return c < header_.class_count && SlotIndexOf(slot_id) < header_.classes[c].slot_count;
}

uint8_t* Segment::SlotBase(uint32_t slot_id) {
  if (!ValidSlot(slot_id)) return nullptr;
  const SlotClassHeader& c = header_.classes[SlotClassOf(slot_id)];
  return static_cast<uint8_t*>(region_.get_address()) + c.slots_offset +
         uint64_t{c.slot_bytes} * SlotIndexOf(slot_id);
}

size_t Segment::SlotCapacity(uint32_t slot_id) const {
  return ValidSlot(slot_id) ? header_.classes[SlotClassOf(slot_id)].slot_bytes : 0;
}

uint8_t* Segment::Locate(uint32_t slot_id, uint32_t offset, uint32_t length) {
  uint8_t* base = SlotBase(slot_id);
  if (base == nullptr || uint64_t{offset} + length > SlotCapacity(slot_id)) return nullptr;
  return base + offset;
}

size_t Segment::largest_slot_bytes() const {
  return header_.classes[header_.class_count - 1].slot_bytes;
}

Result<uint32_t> Segment::AcquireSlot(size_t bytes, Clock::time_point deadline,
                                      const std::atomic<bool>& closed) {
  uint32_t best = 0;
  while (best < header_.class_count && header_.classes[best].slot_bytes < bytes) ++best;
  if (best == header_.class_count) {
    return Status::ResourceExhausted("message of " + std::to_string(bytes) +
                                     " bytes exceeds the largest shared-memory slot (" +
                                     std::to_string(largest_slot_bytes()) + " bytes)");
  }
  const SlotPool order[] = {own_pool_, SlotPool::kShared, peer_pool_};
  for (;;) {
    for (uint32_t c = best; c < header_.class_count; ++c) {
      for (const SlotPool pool : order) {
        const uint32_t index = Stack(c, pool).Pop();
        if (index == kNoIndex) continue;
        const uint32_t slot = MakeSlotId(c, index);
        if (held_[HeldIndex(slot)].exchange(true, std::memory_order_relaxed)) {
          return Status::DataLoss("the shared free list handed out a slot already in use here");
        }
        return slot;
      }
    }
    const auto now = Clock::now();
    if (now >= deadline || closed.load(std::memory_order_relaxed)) {
      return Status::ResourceExhausted("no free shared-memory slot of " + std::to_string(bytes) +
                                       " bytes or more in time");
    }
    // Every release notifies the shared stack of its class (see ReleaseSlot).
    Stack(best, SlotPool::kShared)
        .WaitForPush(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(20)),
                     [&] {
                       return Stack(best, SlotPool::kShared).Empty() &&
                              Stack(best, own_pool_).Empty() && Stack(best, peer_pool_).Empty();
                     });
  }
}

void Segment::ReleaseSlot(uint32_t slot_id) {
  if (!ValidSlot(slot_id)) return;
  held_[HeldIndex(slot_id)].store(false, std::memory_order_relaxed);
  const uint32_t slot_class = SlotClassOf(slot_id);
  Stack(slot_class, own_pool_).Push(SlotIndexOf(slot_id));
  Stack(slot_class, SlotPool::kShared).NotifyPush();
}

void Segment::HandOver(uint32_t slot_id) {
  if (ValidSlot(slot_id)) held_[HeldIndex(slot_id)].store(false, std::memory_order_relaxed);
}

bool Segment::HeldHere(uint32_t slot_id) const {
  return ValidSlot(slot_id) && held_[HeldIndex(slot_id)].load(std::memory_order_relaxed);
}

}  // namespace ferry::shm
