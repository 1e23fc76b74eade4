// libFuzzer target: the segment header a peer could present. CheckLayout must refuse all but
// exactly consistent layouts, and an accepted layout must lie within the segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "shm/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t expected_bytes = 0;
  ferry::shm::SegmentHeader seen{};
  if (size >= sizeof(expected_bytes)) {
    std::memcpy(&expected_bytes, data, sizeof(expected_bytes));
    data += sizeof(expected_bytes);
    size -= sizeof(expected_bytes);
  }
  std::memcpy(&seen, data, std::min(size, sizeof(seen)));
  // Steer towards the interesting part: most random headers fail the magic check at once.
  if (size > sizeof(seen) && data[sizeof(seen)] % 2 == 0) {
    seen.magic = ferry::shm::kMagic;
    seen.layout_version = ferry::shm::kLayoutVersion;
  }
  auto layout = ferry::shm::CheckLayout(seen, expected_bytes);
  if (!layout.ok()) return 0;
  const ferry::shm::SegmentHeader& h = *layout;
  const auto inside = [&](uint64_t offset, uint64_t bytes) {
    return offset <= h.segment_bytes && bytes <= h.segment_bytes - offset;
  };
  using ferry::shm::DescriptorRing;
  bool ok = h.segment_bytes == expected_bytes && h.class_count >= 1 &&
            h.class_count <= ferry::shm::kMaxSlotClasses &&
            inside(h.to_server_ring_offset, DescriptorRing::BytesFor(h.ring_depth)) &&
            inside(h.to_client_ring_offset, DescriptorRing::BytesFor(h.ring_depth)) &&
            h.to_server_ring_offset + DescriptorRing::BytesFor(h.ring_depth) <=
                h.to_client_ring_offset;
  for (uint32_t i = 0; ok && i < h.class_count; ++i) {
    ok = inside(h.classes[i].stacks_offset,
                ferry::shm::FreeStackBytes(h.classes[i].slot_count) * ferry::shm::kSlotPools) &&
         inside(h.classes[i].slots_offset,
                uint64_t{h.classes[i].slot_bytes} * h.classes[i].slot_count);
  }
  if (!ok) std::abort();  // an accepted layout that escapes the segment is a bug
  return 0;
}
