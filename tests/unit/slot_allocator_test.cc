#include "shm/slot_allocator.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "ferry/message.h"
#include "ferry/protocol_generated.h"

namespace ferry::shm {
namespace {

using namespace std::chrono_literals;
namespace pb = ferry::protocol;

class SlotAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ShmOptions options;
    options.slot_classes = {{1024, 2}, {16384, 2}};
    options.max_calls_in_flight = 2;
    Result<std::shared_ptr<Segment>> created = Segment::Create(options);
    ASSERT_TRUE(created.ok()) << created.status();
    segment_ = *created;
  }

  internal::OutgoingMessage NewMessage(size_t size_hint) {
    return internal::OutgoingMessage(
        std::make_unique<SlotAllocator>(segment_, *segment_, 10ms, copied_, closed_), size_hint);
  }

  // Builds a Refusal whose message has `text_bytes` characters.
  static void BuildRefusal(internal::OutgoingMessage& message, size_t text_bytes) {
    flatbuffers::FlatBufferBuilder& fbb = message.fbb();
    auto body = pb::CreateRefusalDirect(fbb, 1, std::string(text_bytes, 'x').c_str());
    fbb.Finish(pb::CreateHandshakeFrame(fbb, pb::HandshakeBody::Refusal, body.Union()));
    message.MarkFinished();
  }

  std::shared_ptr<Segment> segment_;
  std::atomic<uint64_t> copied_{0};
  std::atomic<bool> closed_{false};
};

TEST_F(SlotAllocatorTest, MessageWithASufficientSizeHintIsBuiltInASlotWithoutCopies) {
  internal::OutgoingMessage message = NewMessage(8000);
  BuildRefusal(message, 6000);
  auto* allocator = static_cast<SlotAllocator*>(message.allocator());
  EXPECT_TRUE(allocator->Usable().ok());
  EXPECT_EQ(copied_.load(), 0U);
  const uint8_t* data = message.fbb().GetBufferPointer();
  const size_t size = message.fbb().GetSize();
  size_t reserved = 0, start = 0;
  message.fbb().ReleaseRaw(reserved, start);  // as a sender does: the slot leaves the builder
  const uint32_t slot = allocator->Detach();
  EXPECT_EQ(SlotClassOf(slot), 1U);
  const uint8_t* base = segment_->SlotBase(slot);
  EXPECT_GE(data, base);
  EXPECT_EQ(data + size, base + segment_->SlotCapacity(slot));
  segment_->ReleaseSlot(slot);
}

TEST_F(SlotAllocatorTest, GrowingPastASlotMovesToALargerClassAndCountsTheCopy) {
  internal::OutgoingMessage message = NewMessage(256);
  BuildRefusal(message, 6000);
  auto* allocator = static_cast<SlotAllocator*>(message.allocator());
  ASSERT_TRUE(allocator->Usable().ok()) << allocator->Usable();
  EXPECT_GT(copied_.load(), 0U);
  const uint8_t* data = message.fbb().GetBufferPointer();
  flatbuffers::Verifier verifier(data, message.fbb().GetSize());
  EXPECT_TRUE(pb::VerifyHandshakeFrameBuffer(verifier));
  EXPECT_EQ(pb::GetHandshakeFrame(data)->body_as_Refusal()->message()->size(), 6000U);
}

TEST_F(SlotAllocatorTest, GrowingWithinOneSlotMovesOnlyTheBuildersScratch) {
  internal::OutgoingMessage message = NewMessage(64);
  BuildRefusal(message, 600);  // grows 64 -> ... -> ~700 bytes, all inside one 1 KiB slot
  EXPECT_LT(copied_.load(), 600U);
}

TEST_F(SlotAllocatorTest, MessageLargerThanTheLargestClassIsBuiltOnTheHeapAndRefused) {
  internal::OutgoingMessage message = NewMessage(0);
  BuildRefusal(message, 20000);
  const Status usable = message.allocator()->Usable();
  EXPECT_EQ(usable.code(), StatusCode::kResourceExhausted) << usable;
  // The builder still produced a valid buffer: nothing crashed or truncated.
  flatbuffers::Verifier verifier(message.fbb().GetBufferPointer(), message.fbb().GetSize());
  EXPECT_TRUE(pb::VerifyHandshakeFrameBuffer(verifier));
}

TEST_F(SlotAllocatorTest, DroppingAnUnsentMessageReturnsItsSlot) {
  {
    internal::OutgoingMessage message = NewMessage(8000);
    BuildRefusal(message, 10);
  }
  {
    internal::OutgoingMessage message = NewMessage(8000);
    BuildRefusal(message, 10);
  }
  // Both 16 KiB slots must be free again.
  Result<uint32_t> a = segment_->AcquireSlot(10000, Segment::Clock::now(), closed_);
  Result<uint32_t> b = segment_->AcquireSlot(10000, Segment::Clock::now(), closed_);
  EXPECT_TRUE(a.ok() && b.ok());
}

TEST_F(SlotAllocatorTest, RequestCountsAsBeingBuiltUntilSentOrDropped) {
  DescriptorRing& ring = segment_->to_server_ring();
  {
    ring.BeginBuilding(false);  // as a client's ShmLink::NewMessage does
    SlotAllocator sent(segment_, *segment_, 10ms, copied_, closed_, &ring);
    EXPECT_TRUE(ring.SomeoneBuilding());
    sent.EndBuilding();
    EXPECT_FALSE(ring.SomeoneBuilding());
    ring.BeginBuilding(false);
    SlotAllocator dropped(segment_, *segment_, 10ms, copied_, closed_, &ring);
    EXPECT_TRUE(ring.SomeoneBuilding());
  }
  EXPECT_FALSE(ring.SomeoneBuilding());
}

// Takes every 16 KiB slot, so the next 16 KiB message finds none.
std::vector<uint32_t> TakeAllLargeSlots(Segment& segment, const std::atomic<bool>& closed) {
  std::vector<uint32_t> taken;
  for (;;) {
    Result<uint32_t> slot = segment.AcquireSlot(10000, Segment::Clock::now(), closed);
    if (!slot.ok()) return taken;
    taken.push_back(*slot);
  }
}

TEST_F(SlotAllocatorTest, MessageBuiltWhileEverySlotIsTakenWaitsForOneWhenPlacedAndIsCopiedOnce) {
  std::vector<uint32_t> taken = TakeAllLargeSlots(*segment_, closed_);
  ASSERT_EQ(taken.size(), 2U);
  internal::OutgoingMessage message = NewMessage(8000);
  BuildRefusal(message, 6000);
  auto* allocator = static_cast<SlotAllocator*>(message.allocator());
  ASSERT_TRUE(allocator->Usable().ok()) << "no free slot is a wait, not a failure";
  const uint8_t* data = message.fbb().GetBufferPointer();
  const size_t size = message.fbb().GetSize();

  // Nobody frees a slot before a deadline that has passed: RESOURCE_EXHAUSTED, nothing copied.
  EXPECT_EQ(allocator->Place(data, size, Segment::Clock::now()).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(copied_.load(), 0U);

  // A slot freed while Place waits is taken, and the message copied into it exactly once.
  std::thread freer([&] { segment_->ReleaseSlot(taken.back()); });
  Result<uint8_t*> placed = allocator->Place(data, size, Segment::Clock::now() + 60s);
  freer.join();
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(copied_.load(), size);
  flatbuffers::Verifier verifier(*placed, size);
  EXPECT_TRUE(pb::VerifyHandshakeFrameBuffer(verifier));
  size_t reserved = 0, start = 0;
  message.fbb().ReleaseRaw(reserved, start);
  const uint32_t slot = allocator->Detach();
  EXPECT_EQ(slot, taken.back());
  EXPECT_EQ(*placed + size, segment_->SlotBase(slot) + segment_->SlotCapacity(slot));
  segment_->ReleaseSlot(slot);
  segment_->ReleaseSlot(taken.front());
}

TEST_F(SlotAllocatorTest, MessageBuiltInASlotIsPlacedWhereItIs) {
  internal::OutgoingMessage message = NewMessage(8000);
  BuildRefusal(message, 100);
  auto* allocator = static_cast<SlotAllocator*>(message.allocator());
  const uint8_t* data = message.fbb().GetBufferPointer();
  Result<uint8_t*> placed = allocator->Place(data, message.fbb().GetSize(), Segment::Clock::now());
  ASSERT_TRUE(placed.ok());
  EXPECT_EQ(*placed, data);
  EXPECT_EQ(copied_.load(), 0U);
}

TEST(Verify, RejectsBytesThatAreNotTheExpectedTable) {
  std::vector<uint8_t> garbage(64, 0xff);
  EXPECT_FALSE(internal::Verify<pb::HandshakeFrame>(garbage.data(), garbage.size()));
  std::vector<uint8_t> tiny(3, 0);
  EXPECT_FALSE(internal::Verify<pb::HandshakeFrame>(tiny.data(), tiny.size()));
}

}  // namespace
}  // namespace ferry::shm
