// SocketLink's framing and server-side bounds: frames come out whole however the bytes
// arrive (several per read, a length split across reads, frames longer than the read-ahead),
// a frame that has begun must arrive within its time, a frame waits for memory from the
// pool's budget, and idle buffers age out while the link waits for the next frame.
#include "socket/socket_link.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "call/memory_budget.h"

namespace ferry::internal {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr size_t kMiB = 1024 * 1024;

// A link on one end of a socket pair; the test writes raw bytes on the other.
struct Pair {
  explicit Pair(SocketLinkOptions options) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    peer = Fd(fds[1]);
    auto adopted = SocketLink::Adopt(Fd(fds[0]), std::move(options));
    EXPECT_TRUE(adopted.ok()) << adopted.status();
    link = std::move(*adopted);
  }
  void Write(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (size > 0) {
      const ssize_t n = send(peer.get(), bytes, size, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      bytes += n;
      size -= static_cast<size_t>(n);
    }
  }
  void WriteLength(uint32_t n) {
    const uint8_t length[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                               static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
    Write(length, sizeof(length));
  }

  Fd peer;
  std::unique_ptr<SocketLink> link;
};

SocketLinkOptions ServerSide(std::chrono::milliseconds frame_timeout,
                             std::shared_ptr<MemoryBudget> budget) {
  SocketLinkOptions options;
  options.max_frame_bytes = 64 * kMiB;
  options.pool = BufferPool::Create(64 * kMiB, budget);
  options.frame_timeout = frame_timeout;
  options.min_frame_bytes_per_second = kMiB;
  return options;
}

// A frame of `size` bytes, each byte derived from `seed` and its position.
std::vector<uint8_t> FrameBytes(uint32_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size + 4);
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(size >> (8 * i));
  for (uint32_t i = 0; i < size; ++i) bytes[4 + i] = static_cast<uint8_t>(seed + i * 7);
  return bytes;
}

void ExpectFrame(Result<PooledBuffer> got, uint32_t size, uint8_t seed) {
  ASSERT_TRUE(got.ok()) << got.status();
  std::vector<uint8_t> expected = FrameBytes(size, seed);
  ASSERT_EQ(got->size(), size);
  EXPECT_TRUE(std::equal(got->data(), got->data() + size, expected.begin() + 4))
      << "frame of " << size << " bytes, seed " << int{seed};
}

TEST(SocketLink, FramesThatArriveTogetherComeOutOneByOneAndWhole) {
  Pair pair(ServerSide(0ms, nullptr));
  // Small frames in one write (read together), then a frame longer than the read-ahead
  // whose start arrives with them, then small ones again.
  const uint32_t sizes[] = {1, 64, 300, 5, 100'000, 9, 64};
  std::vector<uint8_t> all;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::vector<uint8_t> frame = FrameBytes(sizes[i], static_cast<uint8_t>(i));
    all.insert(all.end(), frame.begin(), frame.end());
  }
  std::thread writer([&] { pair.Write(all.data(), all.size()); });
  for (size_t i = 0; i < std::size(sizes); ++i) {
    ExpectFrame(pair.link->Receive(Clock::now() + 60s), sizes[i], static_cast<uint8_t>(i));
  }
  writer.join();
  // Every byte came through the kernel once; the frames' bytes that were read ahead were
  // copied once more into their buffers (at most the whole stream).
  EXPECT_GE(pair.link->bytes_copied(), all.size());
  EXPECT_LE(pair.link->bytes_copied(), 2 * all.size());
}

TEST(SocketLink, ALengthSplitAcrossReadsIsPutTogether) {
  Pair pair(ServerSide(0ms, nullptr));
  std::vector<uint8_t> first = FrameBytes(10, 1), second = FrameBytes(20, 2);
  // The first frame and half of the second one's length, then the rest.
  std::vector<uint8_t> part(first);
  part.insert(part.end(), second.begin(), second.begin() + 2);
  pair.Write(part.data(), part.size());
  ExpectFrame(pair.link->Receive(Clock::now() + 60s), 10, 1);
  std::thread writer([&] { pair.Write(second.data() + 2, second.size() - 2); });
  ExpectFrame(pair.link->Receive(Clock::now() + 60s), 20, 2);
  writer.join();
}

TEST(SocketLink, APeerThatClosesAfterItsFramesLeavesThemReadableFirst) {
  Pair pair(ServerSide(0ms, nullptr));
  std::vector<uint8_t> a = FrameBytes(3, 1), b = FrameBytes(4, 2);
  a.insert(a.end(), b.begin(), b.end());
  pair.Write(a.data(), a.size());
  pair.peer = Fd();
  ExpectFrame(pair.link->Receive(Clock::now() + 60s), 3, 1);
  ExpectFrame(pair.link->Receive(Clock::now() + 60s), 4, 2);
  EXPECT_EQ(pair.link->Receive(Clock::now() + 60s).status().code(), StatusCode::kUnavailable);
}

TEST(SocketLink, AFrameThatTricklesIsCutOffAfterItsTime) {
  Pair pair(ServerSide(200ms, nullptr));
  pair.WriteLength(1000);
  pair.Write("abc", 3);
  const Clock::time_point start = Clock::now();
  Result<PooledBuffer> frame = pair.link->Receive(Clock::time_point::max());
  EXPECT_EQ(frame.status().code(), StatusCode::kDataLoss) << frame.status();
  EXPECT_NE(frame.status().message().find("3 arrived"), std::string::npos) << frame.status();
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_LT(Clock::now() - start, 5s);
  // The link is shut down: the next Receive fails at once.
  EXPECT_EQ(pair.link->Receive(Clock::time_point::max()).status().code(), StatusCode::kUnavailable);
}

TEST(SocketLink, AHalfSentLengthIsCutOffToo) {
  Pair pair(ServerSide(100ms, nullptr));
  pair.Write("\x10", 1);
  Result<PooledBuffer> frame = pair.link->Receive(Clock::time_point::max());
  EXPECT_EQ(frame.status().code(), StatusCode::kDataLoss) << frame.status();
}

TEST(SocketLink, ALargeFrameAtAnHonestRateArrivesWhole) {
  // 1 MiB at 1 MiB/s is allowed 100 ms + 1 s; sent in 8 pieces 20 ms apart, it takes ~160 ms,
  // longer than frame_timeout alone.
  Pair pair(ServerSide(100ms, nullptr));
  std::vector<uint8_t> payload(kMiB, 7);
  std::thread sender([&] {
    pair.WriteLength(static_cast<uint32_t>(payload.size()));
    for (size_t at = 0; at < payload.size(); at += payload.size() / 8) {
      pair.Write(payload.data() + at, payload.size() / 8);
      std::this_thread::sleep_for(20ms);  // pacing the sender, not waiting for a result
    }
  });
  Result<PooledBuffer> frame = pair.link->Receive(Clock::time_point::max());
  sender.join();
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->size(), kMiB);
  EXPECT_EQ(frame->data()[kMiB - 1], 7);
}

TEST(SocketLink, OnTheServerReceivesDeadlineBoundsOnlyTheWaitForAFrameToBegin) {
  Pair pair(ServerSide(10s, nullptr));
  EXPECT_EQ(pair.link->Receive(Clock::now() + 20ms).status().code(), StatusCode::kDeadlineExceeded);
  std::thread sender([&] {
    pair.WriteLength(4);
    pair.Write("ab", 2);
    std::this_thread::sleep_for(200ms);  // the rest arrives after Receive's deadline
    pair.Write("cd", 2);
  });
  Result<PooledBuffer> frame = pair.link->Receive(Clock::now() + 100ms);
  sender.join();
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->size(), 4U);
}

TEST(SocketLink, AFrameWaitsForBudgetThenIsRead) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  Pair pair(ServerSide(10s, budget));
  Result<PooledBuffer> held =
      pair.link->pool()->TakeCharged(10 * kMiB, Clock::time_point::max(), nullptr);
  ASSERT_TRUE(held.ok());
  std::vector<uint8_t> payload(8 * kMiB, 9);
  Result<PooledBuffer> frame = Status::Unknown("not yet");
  std::thread receiver([&] { frame = pair.link->Receive(Clock::time_point::max()); });
  pair.WriteLength(static_cast<uint32_t>(payload.size()));
  const Clock::time_point until = Clock::now() + 10s;
  while (!budget->contended() && Clock::now() < until) std::this_thread::yield();
  ASSERT_TRUE(budget->contended());
  *held = PooledBuffer();
  pair.Write(payload.data(), payload.size());
  receiver.join();
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->size(), 8 * kMiB);
  EXPECT_TRUE(frame->charged());
}

TEST(SocketLink, APeerThatHangsUpWhileItsFrameWaitsForBudgetIsLetGo) {
  auto budget = std::make_shared<MemoryBudget>(16 * kMiB);
  Pair pair(ServerSide(10s, budget));
  Result<PooledBuffer> held =
      pair.link->pool()->TakeCharged(10 * kMiB, Clock::time_point::max(), nullptr);
  ASSERT_TRUE(held.ok());
  pair.WriteLength(8 * kMiB);
  pair.Write("xyz", 3);
  std::thread closer([&] {
    const Clock::time_point until = Clock::now() + 10s;
    while (!budget->contended() && Clock::now() < until) std::this_thread::yield();
    pair.peer.Reset();
  });
  const Clock::time_point start = Clock::now();
  Result<PooledBuffer> frame = pair.link->Receive(Clock::time_point::max());
  closer.join();
  EXPECT_EQ(frame.status().code(), StatusCode::kUnavailable) << frame.status();
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(SocketLink, IdleLargeBuffersAgeOutWhileTheLinkWaitsForAFrame) {
  Pair pair(ServerSide(10s, nullptr));
  { PooledBuffer reply = pair.link->pool()->Take(4 * kMiB); }
  EXPECT_EQ(pair.link->pool()->idle_bytes(), 4 * kMiB);
  std::thread sender([&] {
    const Clock::time_point until = Clock::now() + 10s;
    while (pair.link->pool()->idle_bytes() != 0 && Clock::now() < until) {
      std::this_thread::yield();
    }
    pair.WriteLength(4);
    pair.Write("done", 4);
  });
  Result<PooledBuffer> frame = pair.link->Receive(Clock::time_point::max());
  sender.join();
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(pair.link->pool()->next_trim(), Clock::time_point::max());
}

}  // namespace
}  // namespace ferry::internal

namespace ferry::internal {
namespace {

TEST(SocketLinkSend, ADeadlineThatFindsAFramePartlySentLetsTheLinkFinishItAndStaysUp) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  SocketLinkOptions options;
  options.max_frame_bytes = 64 * kMiB;
  options.frame_timeout = 10s;
  auto sender = SocketLink::Adopt(Fd(fds[0]), options);
  auto receiver = SocketLink::Adopt(Fd(fds[1]), options);
  ASSERT_TRUE(sender.ok() && receiver.ok());

  // Far more than the socket buffers hold, and nobody reads yet: the deadline finds the
  // frame partly sent.
  std::vector<uint8_t> big(8 * kMiB, 0x5a);
  const FrameLink::Part big_parts[] = {big};
  const Status sent = (*sender)->Send(big_parts, Clock::now() + 50ms);
  EXPECT_EQ(sent.code(), StatusCode::kDeadlineExceeded) << sent;
  std::fill(big.begin(), big.end(), 0);  // the caller's buffer is gone with its call

  Result<PooledBuffer> frame = (*receiver)->Receive(Clock::time_point::max());
  ASSERT_TRUE(frame.ok()) << frame.status();
  ASSERT_EQ(frame->size(), 8 * kMiB);
  EXPECT_TRUE(std::all_of(frame->data(), frame->data() + frame->size(),
                          [](uint8_t b) { return b == 0x5a; }));

  // The next frame finds the link as good as new.
  const uint8_t small[] = {1, 2, 3};
  const FrameLink::Part small_parts[] = {small};
  ASSERT_TRUE((*sender)->Send(small_parts, Clock::time_point::max()).ok());
  Result<PooledBuffer> next = (*receiver)->Receive(Clock::now() + 10s);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->size(), 3U);
  EXPECT_EQ(next->data()[2], 3);
}

}  // namespace
}  // namespace ferry::internal

// SendBatched: small frames wait in a batch until the link's receiver would wait, a Flush, the
// next frame sent, or the write side's close; in order, and never while a receiver waits.
namespace ferry::internal {
namespace {

// Two SocketLinks on a socket pair: `near` batches, `far` reads what it sends.
struct LinkedPair {
  LinkedPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    SocketLinkOptions options;
    options.max_frame_bytes = 64 * kMiB;
    auto a = SocketLink::Adopt(Fd(fds[0]), options);
    auto b = SocketLink::Adopt(Fd(fds[1]), options);
    EXPECT_TRUE(a.ok() && b.ok());
    near = std::move(*a);
    far = std::move(*b);
  }
  // Whether `far` has a frame from `near` without waiting.
  bool FarHasAFrame() {
    Result<PooledBuffer> got = far->Receive(Clock::now());
    if (got.ok()) pending.push_back(std::vector<uint8_t>(got->data(), got->data() + got->size()));
    return got.ok();
  }
  // The next frame at `far`, from what FarHasAFrame took first.
  std::vector<uint8_t> NextAtFar() {
    if (!pending.empty()) {
      std::vector<uint8_t> first = std::move(pending.front());
      pending.erase(pending.begin());
      return first;
    }
    Result<PooledBuffer> got = far->Receive(Clock::now() + 10s);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return {};
    return std::vector<uint8_t>(got->data(), got->data() + got->size());
  }

  std::unique_ptr<SocketLink> near;
  std::unique_ptr<SocketLink> far;
  std::vector<std::vector<uint8_t>> pending;
};

Status Batch(FrameLink& link, const std::vector<uint8_t>& bytes) {
  const FrameLink::Part parts[] = {bytes};
  return link.SendBatched(parts, Clock::time_point::max());
}

TEST(SocketLinkBatch, AFrameWaitsForFlushAndFramesKeepTheirOrder) {
  LinkedPair pair;
  ASSERT_TRUE(Batch(*pair.near, {1}).ok());
  ASSERT_TRUE(Batch(*pair.near, {2, 2}).ok());
  EXPECT_FALSE(pair.FarHasAFrame()) << "a batched frame went out on its own";
  pair.near->Flush();
  EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({1}));
  EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({2, 2}));
}

TEST(SocketLinkBatch, TheNextFrameSentTakesTheBatchAheadOfIt) {
  for (const bool bounded : {false, true}) {
    SCOPED_TRACE(bounded ? "with a deadline" : "without one");
    LinkedPair pair;
    ASSERT_TRUE(Batch(*pair.near, {1}).ok());
    const std::vector<uint8_t> next = {3, 3, 3};
    const FrameLink::Part parts[] = {next};
    ASSERT_TRUE(
        pair.near->Send(parts, bounded ? Clock::now() + 10s : Clock::time_point::max()).ok());
    EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({1}));
    EXPECT_EQ(pair.NextAtFar(), next);
  }
}

TEST(SocketLinkBatch, AFrameTooLargeToBatchGoesAtOnceAfterTheBatch) {
  LinkedPair pair;
  ASSERT_TRUE(Batch(*pair.near, {1}).ok());
  const std::vector<uint8_t> large(64 * 1024, 9);
  ASSERT_TRUE(Batch(*pair.near, large).ok());
  EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({1}));
  EXPECT_EQ(pair.NextAtFar(), large);
}

TEST(SocketLinkBatch, ClosingTheWriteSideSendsTheBatchFirst) {
  LinkedPair pair;
  ASSERT_TRUE(Batch(*pair.near, {7}).ok());
  pair.near->CloseWrites();
  EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({7}));
  EXPECT_EQ(pair.far->Receive(Clock::now() + 10s).status().code(), StatusCode::kUnavailable);
}

TEST(SocketLinkBatch, TheBatchWaitsWhileTheReceiverHasFramesReadInAndGoesBeforeItWaits) {
  LinkedPair pair;
  // Two frames in one write (one batch): the first Receive reads both in.
  ASSERT_TRUE(Batch(*pair.far, {'a'}).ok());
  ASSERT_TRUE(Batch(*pair.far, {'b'}).ok());
  pair.far->Flush();  // both in one write
  Result<PooledBuffer> first = pair.near->Receive(Clock::now() + 10s);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(pair.near->FrameReady()) << "the second frame was not read in with the first";

  ASSERT_TRUE(Batch(*pair.near, {5}).ok());  // a reply to the first, say
  Result<PooledBuffer> second = pair.near->Receive(Clock::now() + 10s);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->data()[0], 'b');
  EXPECT_FALSE(pair.FarHasAFrame()) << "the batch went while frames were still read in";

  // Nothing more read in: the next Receive would wait, so the batch goes first.
  EXPECT_EQ(pair.near->Receive(Clock::now()).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({5}));
}

TEST(SocketLinkBatch, AFrameWithADeadlineBehindABatchTheSocketCannotTakeEndsAtItsDeadline) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const Fd raw_near(dup(fds[0]));  // fills the socket behind the link's back
  SocketLinkOptions options;
  options.max_frame_bytes = 64 * kMiB;
  auto near = SocketLink::Adopt(Fd(fds[0]), options);
  auto far = SocketLink::Adopt(Fd(fds[1]), options);
  ASSERT_TRUE(near.ok() && far.ok());
  // Frames of one byte, written whole until the socket takes no more.
  const uint8_t filler[5] = {1, 0, 0, 0, 0xf1};
  size_t fillers = 0;
  while (send(raw_near.get(), filler, sizeof(filler), MSG_DONTWAIT | MSG_NOSIGNAL) ==
         static_cast<ssize_t>(sizeof(filler))) {
    ++fillers;
  }
  ASSERT_GT(fillers, 0U);
  ASSERT_TRUE(Batch(**near, {0xa}).ok());
  const std::vector<uint8_t> late = {0xb};
  const FrameLink::Part parts[] = {late};
  const auto start = Clock::now();
  const Status sent = (*near)->Send(parts, Clock::now() + 100ms);
  EXPECT_EQ(sent.code(), StatusCode::kDeadlineExceeded) << sent;
  EXPECT_LT(Clock::now() - start, 10s);
  // Once the peer reads, the batch is still whole and first.
  for (size_t i = 0; i < fillers; ++i) {
    Result<PooledBuffer> got = (*far)->Receive(Clock::now() + 10s);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->data()[0], 0xf1);
  }
  (*near)->Flush();
  Result<PooledBuffer> batched = (*far)->Receive(Clock::now() + 10s);
  ASSERT_TRUE(batched.ok()) << batched.status();
  EXPECT_EQ(batched->data()[0], 0xa);
}

TEST(SocketLinkBatch, AFrameBatchedWhileAnotherThreadReceivesIsNotLeftWaiting) {
  // Whether the receiver waits already (the frame goes at once) or has yet to begin (it
  // flushes first), the frame reaches the far side with no Flush; the far side's answer then
  // ends the receiver's wait.
  for (int round = 0; round < 50; ++round) {
    LinkedPair pair;
    std::thread receiver([&] {
      Result<PooledBuffer> answer = pair.near->Receive(Clock::now() + 20s);
      EXPECT_TRUE(answer.ok()) << answer.status();
    });
    ASSERT_TRUE(Batch(*pair.near, {static_cast<uint8_t>(round)}).ok());
    EXPECT_EQ(pair.NextAtFar(), std::vector<uint8_t>({static_cast<uint8_t>(round)}));
    const std::vector<uint8_t> answer = {42};
    const FrameLink::Part parts[] = {answer};
    EXPECT_TRUE(pair.far->Send(parts, Clock::time_point::max()).ok());
    receiver.join();
  }
}

}  // namespace
}  // namespace ferry::internal
