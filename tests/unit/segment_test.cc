#include "shm/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "support/shm_files.h"

namespace ferry::shm {
namespace {

using namespace std::chrono_literals;

ShmOptions SmallOptions() {
  ShmOptions options;
  options.slot_classes = {{1024, 2}, {8192, 1}};
  options.max_calls_in_flight = 4;
  return options;
}

std::shared_ptr<Segment> CreateSegment(const ShmOptions& options) {
  Result<std::shared_ptr<Segment>> segment = Segment::Create(options);
  return segment.ok() ? *segment : nullptr;
}

TEST(ComputeLayout, RejectsClassesThatDoNotGrow) {
  EXPECT_EQ(ComputeLayout(4, {{4096, 1}, {4096, 1}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ComputeLayout, RejectsSlotSizesThatAreNotMultiplesOf64) {
  EXPECT_EQ(ComputeLayout(4, {{100, 1}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ComputeLayout, RejectsZeroCalls) {
  EXPECT_EQ(ComputeLayout(0, {{4096, 1}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ComputeLayout, RoundsRingDepthUpToAPowerOfTwo) {
  Result<SegmentHeader> layout = ComputeLayout(300, {{4096, 1}});
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->ring_depth, 512U);
  EXPECT_EQ(layout->classes[0].slots_offset % kSlotAlignment, 0U);
}

TEST(ComputeLayout, RingsAreNeverShallowerThanTheMinimum) {
  Result<SegmentHeader> layout = ComputeLayout(4, {{4096, 1}});
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->ring_depth, kMinRingDepth);
}

TEST(ComputeLayout, RejectsMoreThan65536MessagesInFlight) {
  EXPECT_EQ(ComputeLayout(65537, {{4096, 1}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ComputeLayout, PlacesTheTwoRingsApartBeforeTheSlots) {
  Result<SegmentHeader> layout = ComputeLayout(256, {{4096, 1}});
  ASSERT_TRUE(layout.ok());
  EXPECT_GE(layout->to_client_ring_offset,
            layout->to_server_ring_offset + DescriptorRing::BytesFor(layout->ring_depth));
  EXPECT_GE(layout->classes[0].stacks_offset,
            layout->to_client_ring_offset + DescriptorRing::BytesFor(layout->ring_depth));
}

TEST(Segment, OpenedSegmentSeesWhatTheCreatorWrote) {
  Result<std::shared_ptr<Segment>> created = Segment::Create(SmallOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  Result<std::shared_ptr<Segment>> opened =
      Segment::Open(dup((*created)->descriptor()), (*created)->size());
  ASSERT_TRUE(opened.ok()) << opened.status();
  (*created)->SlotBase(MakeSlotId(1, 0))[10] = 42;
  EXPECT_EQ((*opened)->SlotBase(MakeSlotId(1, 0))[10], 42);
  EXPECT_TRUE(testing::FerryFilesInDevShm().empty());
}

TEST(Segment, EachRingCarriesItsOwnDirectionBetweenMappings) {
  Result<std::shared_ptr<Segment>> server = Segment::Create(SmallOptions());
  ASSERT_TRUE(server.ok()) << server.status();
  Result<std::shared_ptr<Segment>> client =
      Segment::Open(dup((*server)->descriptor()), (*server)->size());
  ASSERT_TRUE(client.ok()) << client.status();
  Descriptor request{};
  request.call_id = 7;
  Descriptor reply{};
  reply.call_id = 8;
  ASSERT_EQ((*client)->to_server_ring().TryPush(request), DescriptorRing::PushResult::kPushed);
  ASSERT_EQ((*server)->to_client_ring().TryPush(reply), DescriptorRing::PushResult::kPushed);
  Descriptor out{};
  ASSERT_TRUE((*server)->to_server_ring().Pop(out));
  EXPECT_EQ(out.call_id, 7U);
  EXPECT_FALSE((*server)->to_server_ring().Pop(out));
  ASSERT_TRUE((*client)->to_client_ring().Pop(out));
  EXPECT_EQ(out.call_id, 8U);
}

TEST(Segment, OpenRefusesALayoutWithAnotherRingDepth) {
  Result<std::shared_ptr<Segment>> created = Segment::Create(SmallOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  // What a peer could present: rings deeper than the regions laid out for them.
  void* mapped = mmap(nullptr, sizeof(SegmentHeader), PROT_READ | PROT_WRITE, MAP_SHARED,
                      (*created)->descriptor(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  static_cast<SegmentHeader*>(mapped)->ring_depth *= 2;
  munmap(mapped, sizeof(SegmentHeader));
  EXPECT_EQ(Segment::Open(dup((*created)->descriptor()), (*created)->size()).status().code(),
            StatusCode::kDataLoss);
}

TEST(Segment, CannotBeShrunkByAPeer) {
  Result<std::shared_ptr<Segment>> created = Segment::Create(SmallOptions());
  ASSERT_TRUE(created.ok()) << created.status();
  // What a hostile peer would try, to make our next access fault with SIGBUS.
  EXPECT_NE(ftruncate((*created)->descriptor(), 0), 0);
  EXPECT_EQ(errno, EPERM);
}

TEST(Segment, OpenRefusesADescriptorWithoutSeals) {
  const int unsealed = memfd_create("not-ferry", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  ASSERT_EQ(ftruncate(unsealed, 1 << 20), 0);
  EXPECT_EQ(Segment::Open(unsealed, 1 << 20).status().code(), StatusCode::kDataLoss);
}

TEST(Segment, OpenWithAnotherSizeIsDataLoss) {
  Result<std::shared_ptr<Segment>> created = Segment::Create(SmallOptions());
  ASSERT_TRUE(created.ok());
  Result<std::shared_ptr<Segment>> opened =
      Segment::Open(dup((*created)->descriptor()), (*created)->size() + 4096);
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss);
}

TEST(Segment, OpenOfSomethingThatIsNotASegmentIsDataLoss) {
  const int sealed_garbage = memfd_create("garbage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(sealed_garbage, 0);
  ASSERT_EQ(ftruncate(sealed_garbage, 1 << 20), 0);
  ASSERT_EQ(fcntl(sealed_garbage, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_EQ(Segment::Open(sealed_garbage, 1 << 20).status().code(), StatusCode::kDataLoss);
}

TEST(Segment, AcquireSlotPicksTheSmallestClassThatFitsThenLargerOnes) {
  std::shared_ptr<Segment> segment = CreateSegment(SmallOptions());
  ASSERT_NE(segment, nullptr);
  std::atomic<bool> closed{false};
  const auto soon = Segment::Clock::now() + 10ms;
  Result<uint32_t> a = segment->AcquireSlot(100, soon, closed);
  Result<uint32_t> b = segment->AcquireSlot(100, soon, closed);
  Result<uint32_t> c = segment->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(SlotClassOf(*a), 0U);
  EXPECT_EQ(SlotClassOf(*b), 0U);
  EXPECT_EQ(SlotClassOf(*c), 1U);  // class 0 is exhausted
  EXPECT_EQ(segment->AcquireSlot(100, soon, closed).status().code(),
            StatusCode::kResourceExhausted);
  segment->ReleaseSlot(*a);
  Result<uint32_t> again = segment->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
}

// A segment of one class of `slots` 1 KiB slots, as the server made it and the client mapped it
// (nulls when either fails).
std::pair<std::shared_ptr<Segment>, std::shared_ptr<Segment>> ServerAndClient(uint32_t slots) {
  ShmOptions options = SmallOptions();
  options.slot_classes = {{1024, slots}};
  std::shared_ptr<Segment> server = CreateSegment(options);
  if (server == nullptr) return {};
  Result<std::shared_ptr<Segment>> client =
      Segment::Open(dup(server->descriptor()), server->size());
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return {};
  return {server, *client};
}

TEST(Segment, EachSideTakesBackWhatItFreedBeforeTouchingTheSharedStack) {
  auto [server, client] = ServerAndClient(8);
  ASSERT_NE(client, nullptr);
  std::atomic<bool> closed{false};
  const auto soon = Segment::Clock::now() + 10ms;
  // A unary call's slots: the client's request is freed by the server, which takes that slot
  // for its reply; the reply's slot, freed by the client, carries the next request.
  Result<uint32_t> request = client->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(request.ok());
  client->HandOver(*request);
  server->ReleaseSlot(*request);
  Result<uint32_t> reply = server->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, *request);
  server->HandOver(*reply);
  client->ReleaseSlot(*reply);
  Result<uint32_t> next_request = client->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(next_request.ok());
  EXPECT_EQ(*next_request, *request);
}

TEST(Segment, ASideWhoseStacksAreEmptyTakesWhatThePeerFreed) {
  auto [server, client] = ServerAndClient(2);
  ASSERT_NE(client, nullptr);
  std::atomic<bool> closed{false};
  const auto soon = Segment::Clock::now() + 10ms;
  Result<uint32_t> a = client->AcquireSlot(100, soon, closed);
  Result<uint32_t> b = client->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(a.ok() && b.ok());
  client->ReleaseSlot(*a);  // now on the client's own stack
  Result<uint32_t> taken = server->AcquireSlot(100, soon, closed);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, *a);
}

TEST(Segment, AWaitForASlotEndsWhenThePeerFreesOne) {
  auto [server, client] = ServerAndClient(1);
  ASSERT_NE(client, nullptr);
  std::atomic<bool> closed{false};
  Result<uint32_t> only = client->AcquireSlot(100, Segment::Clock::now(), closed);
  ASSERT_TRUE(only.ok());
  std::thread freer([&] { client->ReleaseSlot(*only); });
  // The release lands on the client's stack and wakes the server's wait from there.
  Result<uint32_t> taken = server->AcquireSlot(100, Segment::Clock::now() + 60s, closed);
  freer.join();
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, *only);
}

TEST(Segment, TracksWhichSlotsThisSideHolds) {
  std::shared_ptr<Segment> segment = CreateSegment(SmallOptions());
  ASSERT_NE(segment, nullptr);
  std::atomic<bool> closed{false};
  Result<uint32_t> slot = segment->AcquireSlot(100, Segment::Clock::now(), closed);
  ASSERT_TRUE(slot.ok());
  EXPECT_TRUE(segment->HeldHere(*slot));
  segment->HandOver(*slot);  // sent to the peer
  EXPECT_FALSE(segment->HeldHere(*slot));
}

TEST(Segment, FreeListHandingOutAHeldSlotIsDataLoss) {
  std::shared_ptr<Segment> segment = CreateSegment(SmallOptions());
  ASSERT_NE(segment, nullptr);
  std::atomic<bool> closed{false};
  Result<uint32_t> slot = segment->AcquireSlot(100, Segment::Clock::now(), closed);
  ASSERT_TRUE(slot.ok());
  // What a hostile peer could do: push a slot we hold onto a free stack we take from.
  Result<std::shared_ptr<Segment>> peer =
      Segment::Open(dup(segment->descriptor()), segment->size());
  ASSERT_TRUE(peer.ok());
  (*peer)->ReleaseSlot(*slot);
  // The other free slots come first; then the held one is refused.
  Result<uint32_t> next = segment->AcquireSlot(100, Segment::Clock::now(), closed);
  for (int i = 0; i < 3 && next.ok(); ++i) {
    next = segment->AcquireSlot(100, Segment::Clock::now(), closed);
  }
  EXPECT_EQ(next.status().code(), StatusCode::kDataLoss);
}

TEST(Segment, MessageLargerThanTheLargestClassIsResourceExhausted) {
  std::shared_ptr<Segment> segment = CreateSegment(SmallOptions());
  ASSERT_NE(segment, nullptr);
  std::atomic<bool> closed{false};
  Result<uint32_t> slot = segment->AcquireSlot(8193, Segment::Clock::now() + 1s, closed);
  EXPECT_EQ(slot.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(slot.status().message().find("8193"), std::string::npos);
}

TEST(Segment, LocateRejectsRangesOutsideTheSlot) {
  std::shared_ptr<Segment> segment = CreateSegment(SmallOptions());
  ASSERT_NE(segment, nullptr);
  EXPECT_NE(segment->Locate(MakeSlotId(0, 1), 0, 1024), nullptr);
  EXPECT_EQ(segment->Locate(MakeSlotId(0, 1), 1, 1024), nullptr);
  EXPECT_EQ(segment->Locate(MakeSlotId(0, 2), 0, 1), nullptr);  // no slot 2 in class 0
  EXPECT_EQ(segment->Locate(MakeSlotId(5, 0), 0, 1), nullptr);  // no class 5
  EXPECT_EQ(segment->Locate(MakeSlotId(0, 0), 0xffffffffU, 2), nullptr);
}

}  // namespace
}  // namespace ferry::shm
