// libFuzzer target: what a hostile peer can put in a shared-memory segment, received by the
// real link (ShmLink::Receive, which pops the ring and validates each descriptor) over a small
// segment made here, laid out afresh for every input. The input is a script: a role byte (the
// link is the server or the client), then operations (the first byte of each, modulo 5):
//   0 d[64]        the peer pushes descriptor d on the ring to us; we Receive one message
//   1 n            this side takes a slot of n*16 bytes (building a message: the peer may
//                  name it)
//   2 k            this side sends (k odd) or drops (k even) the oldest slot it holds
//   3 w p[2] v[8]  the peer writes v over 8 bytes at p of the inbound ring (w even) or of a
//                  free list (w odd)
//   4              we drop the received messages we still hold (a handler's message views)
// Nothing may crash, hang or read out of bounds; every payload received must lie within one
// slot this side does not hold, and a descriptor of unknown type must end the link.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "call/message_link.h"
#include "os/unix_socket.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "shm/shm_link.h"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::internal::Fd;
using ferry::internal::FrameType;
namespace shm = ferry::shm;

// Two small classes: few enough slots that the peer's descriptors hit real ones.
const ferry::ShmOptions& Options() {
  static const ferry::ShmOptions options{.slot_classes = {{256, 4}, {4096, 2}},
                                         .max_calls_in_flight = 1};
  return options;
}

// The slot whose bytes a payload lies in, or kNoIndex when it leaves every slot. An empty
// payload may sit at a slot's very end (the next slot's first byte): it is in no slot's bytes,
// and kNoIndex only when it is not at or within one.
uint32_t SlotOf(shm::Segment& segment, const shm::SegmentHeader& layout, const uint8_t* data,
                size_t size) {
  for (uint32_t c = 0; c < layout.class_count; ++c) {
    for (uint32_t i = 0; i < layout.classes[c].slot_count; ++i) {
      const uint32_t slot = shm::MakeSlotId(c, i);
      const uint8_t* base = segment.SlotBase(slot);
      const size_t capacity = segment.SlotCapacity(slot);
      if (data < base || static_cast<size_t>(data - base) > capacity) continue;
      const size_t offset = static_cast<size_t>(data - base);
      if (size == 0 || (offset < capacity && size <= capacity - offset)) return slot;
    }
  }
  return shm::kNoIndex;
}

// Aborts (a finding) when an invariant does not hold, naming it.
void Fail(const char* condition, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, line, condition);
  std::abort();
}
#define CHECK(condition) ((condition) ? void() : Fail(#condition, __LINE__))

const shm::SegmentHeader& Layout() {
  static const shm::SegmentHeader layout =
      *shm::ComputeLayout(Options().max_calls_in_flight, Options().slot_classes);
  return layout;
}

// A link over a segment, kept from run to run (making them costs a thread and a mapping each)
// while it stays connected; each run starts from a segment as the server lays it out.
struct Fixture {
  std::shared_ptr<shm::Segment> segment;
  uint8_t* base = nullptr;  // the mapping's first byte
  Fd ours;                  // the link's end of the liveness socket (the server borrows it)
  Fd peer;                  // the peer's end: open, so the link stays up
  std::unique_ptr<ferry::internal::ShmLink> link;  // last: goes (joining its thread) first

  // Null when the system refuses the resources.
  static std::unique_ptr<Fixture> Make(bool server) {
    auto fixture = std::make_unique<Fixture>();
    auto created = shm::Segment::Create(Options());
    if (!created.ok()) return nullptr;
    fixture->segment = *created;
    // From a slot's address and the layout this runtime computes for the same options.
    fixture->base =
        fixture->segment->SlotBase(shm::MakeSlotId(0, 0)) - Layout().classes[0].slots_offset;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return nullptr;
    fixture->ours = Fd(pair[0]);
    fixture->peer = Fd(pair[1]);
    auto link = server ? ferry::internal::ShmLink::ForServer(fixture->segment, fixture->ours.get(),
                                                             ferry::internal::Fd(),
                                                             std::chrono::milliseconds(0),
                                                             /*busy_poll=*/false, nullptr,
                                                             /*polled=*/false)
                       : ferry::internal::ShmLink::ForClient(
                             fixture->segment, std::move(fixture->ours), ferry::internal::Fd(),
                             "the server", std::chrono::milliseconds(0),
                             /*busy_poll=*/false);
    if (!link.ok()) return nullptr;
    fixture->link = std::move(*link);
    return fixture;
  }

  // The rings and free lists as Segment::Create leaves them. The caller has released every
  // slot it held, so no slot is held here either.
  void Reset() {
    const shm::SegmentHeader& layout = Layout();
    for (const uint64_t offset : {layout.to_server_ring_offset, layout.to_client_ring_offset}) {
      shm::DescriptorRing::Initialize(reinterpret_cast<shm::RingHeader*>(base + offset),
                                      layout.ring_depth);
    }
    for (uint32_t c = 0; c < layout.class_count; ++c) {
      for (const shm::SlotPool pool :
           {shm::SlotPool::kShared, shm::SlotPool::kClient, shm::SlotPool::kServer}) {
        shm::IndexStack::Initialize(reinterpret_cast<shm::IndexStackHeader*>(
                                        base + shm::FreeStackOffset(layout.classes[c], pool)),
                                    layout.classes[c].slot_count,
                                    pool == shm::SlotPool::kShared ? shm::IndexStack::Fill::kFull
                                                                   : shm::IndexStack::Fill::kEmpty);
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool server = data[0] % 2 == 0;
  ++data;
  --size;

  static std::unique_ptr<Fixture> fixtures[2];
  std::unique_ptr<Fixture>& fixture = fixtures[server ? 0 : 1];
  if (fixture == nullptr || !fixture->link->connected()) {
    fixture.reset();
    fixture = Fixture::Make(server);
    if (fixture == nullptr) return 0;
  }
  fixture->Reset();
  const shm::SegmentHeader& layout = Layout();
  shm::Segment* const segment = fixture->segment.get();
  ferry::internal::ShmLink* const link = fixture->link.get();
  uint8_t* const base = fixture->base;
  shm::DescriptorRing& inbound = server ? segment->to_server_ring() : segment->to_client_ring();
  const uint64_t inbound_offset =
      server ? layout.to_server_ring_offset : layout.to_client_ring_offset;

  std::deque<uint32_t> held;  // slots this side holds, oldest first
  std::vector<ferry::internal::IncomingMessage> kept;
  bool scribbled = false;  // the shared state no longer is what a well-behaved peer leaves
  const auto take = [&](size_t n) -> const uint8_t* {
    if (size < n) return nullptr;
    const uint8_t* at = data;
    data += n;
    size -= n;
    return at;
  };
  const std::atomic<bool> never_closed{false};
  while (const uint8_t* op = take(1)) {
    if (*op % 5 == 0) {
      const uint8_t* bytes = take(sizeof(shm::Descriptor));
      if (bytes == nullptr) break;
      shm::Descriptor d;
      std::memcpy(&d, bytes, sizeof(d));
      const bool pushed = inbound.TryPush(d) == shm::DescriptorRing::PushResult::kPushed;
      CHECK(pushed || scribbled);  // the ring holds one at a time unless the peer broke it
      auto got = link->Receive(Clock::now());
      if (!got.ok()) {
        CHECK(scribbled || !pushed || d.type > ferry::internal::kMaxFrameType);
        if (!link->connected()) break;
        continue;
      }
      CHECK(scribbled || d.type <= ferry::internal::kMaxFrameType);
      const ferry::internal::CallHeader& h = got->header;
      CHECK(static_cast<uint8_t>(h.type) <= ferry::internal::kMaxFrameType);
      CHECK(h.status_message.size() <= ferry::internal::kMaxStatusMessageBytes);
      if (!scribbled) {
        CHECK(h.call_id == d.call_id && h.kind == d.kind &&
              h.window_messages == d.window_messages && h.window_bytes == d.window_bytes);
        // Two descriptor fields serve the frame types that need them; the rest stay zero.
        const uint64_t wide = d.deadline_us_or_acked_bytes;
        const uint32_t narrow = d.method_status_or_acked_messages;
        switch (h.type) {
          case FrameType::kRequest:
            CHECK(h.deadline_us == wide && h.method_id == narrow && h.status_code == 0 &&
                  h.acked_messages == 0 && h.acked_bytes == 0);
            break;
          case FrameType::kReply:
            CHECK(h.status_code == narrow && h.deadline_us == 0 && h.method_id == 0 &&
                  h.acked_messages == 0 && h.acked_bytes == 0);
            break;
          case FrameType::kWindow:
            CHECK(h.acked_bytes == wide && h.acked_messages == narrow && h.deadline_us == 0 &&
                  h.method_id == 0 && h.status_code == 0);
            break;
          default:
            CHECK(h.deadline_us == 0 && h.method_id == 0 && h.status_code == 0 &&
                  h.acked_messages == 0 && h.acked_bytes == 0);
            break;
        }
      }
      ferry::internal::IncomingMessage& payload = got->payload;
      if (payload.data() != nullptr) {
        CHECK(!(h.type == FrameType::kReply && h.status_code != 0));  // that slot held text
        CHECK(got->payload_status.ok());
        const uint32_t slot = SlotOf(*segment, layout, payload.data(), payload.size());
        CHECK(slot != shm::kNoIndex);                            // inside one slot
        CHECK(payload.size() == 0 || !segment->HeldHere(slot));  // and not one of ours
        if (kept.size() < 8) kept.push_back(std::move(payload));
      }
    } else if (*op % 5 == 1) {
      const uint8_t* n = take(1);
      if (n == nullptr) break;
      auto slot = segment->AcquireSlot(size_t{*n} * 16, Clock::now(), never_closed);
      if (slot.ok()) {
        CHECK(segment->HeldHere(*slot));
        held.push_back(*slot);
      }
    } else if (*op % 5 == 2) {
      const uint8_t* k = take(1);
      if (k == nullptr) break;
      if (held.empty()) continue;
      if (*k % 2 == 1) {
        segment->HandOver(held.front());
      } else {
        segment->ReleaseSlot(held.front());
      }
      held.pop_front();
    } else if (*op % 5 == 3) {
      const uint8_t* where = take(3 + 8);
      if (where == nullptr) break;
      // Even: the inbound ring (positions, futex words, cells); odd: a class's free stacks. The
      // ring's `building` line is left alone: it only makes the server spin (20 ms a time).
      uint64_t offset, bytes;
      if (where[0] % 2 == 0) {
        offset = inbound_offset;
        bytes = shm::DescriptorRing::BytesFor(layout.ring_depth);
      } else {
        const shm::SlotClassHeader& c = layout.classes[(where[0] / 2) % layout.class_count];
        offset = c.stacks_offset;
        bytes = shm::FreeStackBytes(c.slot_count) * shm::kSlotPools;
      }
      const uint64_t at = (uint64_t{where[1]} << 8 | where[2]) * 8 % (bytes - 7) / 8 * 8;
      if (where[0] % 2 == 0 && at >= offsetof(shm::RingHeader, building) &&
          at < offsetof(shm::RingHeader, released)) {
        continue;
      }
      std::memcpy(base + offset + at, where + 3, 8);
      scribbled = true;
    } else {
      kept.clear();
    }
  }
  kept.clear();
  for (uint32_t slot : held) segment->ReleaseSlot(slot);
  return 0;
}
