// ShmLink: a client and a server link after the real handshake on a socket pair, exchanging
// every kind of message, refusing forged descriptors without harm, and ending promptly when
// either side goes.
#include "shm/shm_link.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "call/handshake.h"
#include "call/server_loop.h"
#include "ferry/protocol_generated.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace pb = ferry::protocol;

constexpr size_t kSlots = 8 + 4;  // every slot class of the fixture's segment

Clock::time_point Soon() { return Clock::now() + 10s; }

// A message whose payload is a HandshakeFrame holding a Refusal of `text_bytes` characters: a
// real FlatBuffer the receiver can verify.
OutgoingMessage Build(MessageLink& link, size_t text_bytes, size_t size_hint = 8192) {
  OutgoingMessage message = link.NewMessage(size_hint);
  flatbuffers::FlatBufferBuilder& fbb = message.fbb();
  auto body = pb::CreateRefusalDirect(fbb, 1, std::string(text_bytes, 'x').c_str());
  fbb.Finish(pb::CreateHandshakeFrame(fbb, pb::HandshakeBody::Refusal, body.Union()));
  message.MarkFinished();
  return message;
}

// The Refusal's text length, or -1 when the payload is not a valid frame.
int RefusalLength(const IncomingMessage& payload) {
  flatbuffers::Verifier verifier(payload.data(), payload.size());
  if (payload.data() == nullptr || !pb::VerifyHandshakeFrameBuffer(verifier)) return -1;
  return static_cast<int>(
      pb::GetHandshakeFrame(payload.data())->body_as_Refusal()->message()->size());
}

CallHeader Header(FrameType type, uint64_t call_id) {
  CallHeader header;
  header.type = type;
  header.call_id = call_id;
  return header;
}

// Free slots right now, counted by taking them all (and giving them back).
size_t FreeSlots(shm::Segment& segment) {
  std::atomic<bool> closed{false};
  std::vector<uint32_t> taken;
  for (;;) {
    Result<uint32_t> slot = segment.AcquireSlot(1, Clock::now(), closed);
    if (!slot.ok()) break;
    taken.push_back(*slot);
  }
  for (uint32_t slot : taken) segment.ReleaseSlot(slot);
  return taken.size();
}

// A slot this side holds, kNoIndex when none.
uint32_t HeldSlot(const shm::Segment& segment) {
  for (uint32_t slot_class = 0; slot_class < 2; ++slot_class) {
    for (uint32_t i = 0; i < 8; ++i) {
      if (segment.HeldHere(shm::MakeSlotId(slot_class, i))) return shm::MakeSlotId(slot_class, i);
    }
  }
  return shm::kNoIndex;
}

class ShmLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options_.shm.slot_classes = {{4096, 8}, {16384, 4}};
    server_options_.shm.max_calls_in_flight = 4;  // rings of kMinRingDepth
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_socket_ = Fd(fds[0]);
    const ConnectionEnv env{.endpoint = "shm://test",
                            .methods = nullptr,
                            .counters = nullptr,
                            .interceptors = nullptr,
                            .options = &server_options_,
                            .on_finished = {},
                            .upgrade_path = {},
                            .log = &log_,
                            .budget = nullptr,
                            .loop = loop_};
    std::optional<Result<std::shared_ptr<MessageLink>>> server;
    std::thread handshake([&] { server.emplace(OpenShmServerLink(server_socket_.get(), env)); });
    Result<std::unique_ptr<MessageLink>> client =
        OpenShmClientLink(Fd(fds[1]), "test-socket", "shm://test", ConnectOptions{}, Soon());
    handshake.join();
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE(server->ok()) << server->status();
    client_ = std::move(*client);
    server_ = std::move(**server);
  }

  template <class Link>
  ShmLink& Shm(Link& link) { return dynamic_cast<ShmLink&>(*link); }

  ServerOptions server_options_;
  LogLimiter log_;
  // Set before SetUp: the server link is polled (served by a worker pool) instead of waiting
  // in Receive with a thread watching the peer.
  std::shared_ptr<ServerLoop> loop_;
  Fd server_socket_;  // outlives the server link, which borrows it
  std::unique_ptr<MessageLink> client_;
  std::shared_ptr<MessageLink> server_;
};

TEST_F(ShmLinkTest, RequestAndReplyTravelInTheirSlotsWithEveryHeaderField) {
  OutgoingMessage request = Build(*client_, 3000);
  CallHeader header = Header(FrameType::kRequest, 42);
  header.method_id = 7;
  header.kind = 2;
  header.deadline_us = 5'000'000;
  header.window_messages = 3;
  header.window_bytes = 1000;
  ASSERT_TRUE(client_->Send(header, &request, Soon()).ok());
  EXPECT_EQ(request.allocator(), nullptr) << "a sent message is consumed";

  Result<InboundMessage> got = server_->Receive(Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->header.type, FrameType::kRequest);
  EXPECT_EQ(got->header.call_id, 42U);
  EXPECT_EQ(got->header.method_id, 7U);
  EXPECT_EQ(got->header.kind, 2U);
  EXPECT_EQ(got->header.deadline_us, 5'000'000U);
  EXPECT_EQ(got->header.window_messages, 3U);
  EXPECT_EQ(got->header.window_bytes, 1000U);
  EXPECT_TRUE(got->payload_status.ok());
  EXPECT_EQ(RefusalLength(got->payload), 3000);

  OutgoingMessage reply = Build(*server_, 5000);
  ASSERT_TRUE(server_->Send(Header(FrameType::kReply, 42), &reply, Soon()).ok());
  Result<InboundMessage> answer = client_->Receive(Soon());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->header.type, FrameType::kReply);
  EXPECT_EQ(answer->header.status_code, 0U);
  EXPECT_EQ(RefusalLength(answer->payload), 5000);
  EXPECT_EQ(client_->bytes_copied(), 0U);
  EXPECT_EQ(server_->bytes_copied(), 0U);

  // Received messages hold their slots until released.
  EXPECT_EQ(FreeSlots(Shm(client_).segment()), kSlots - 2);
  got->payload = IncomingMessage();
  answer->payload = IncomingMessage();
  EXPECT_EQ(FreeSlots(Shm(client_).segment()), kSlots);
}

TEST_F(ShmLinkTest, ErrorReplyBringsItsStatusMessageCutTo4096BytesAndFreesItsSlotAtOnce) {
  CallHeader header = Header(FrameType::kReply, 5);
  header.status_code = static_cast<uint32_t>(StatusCode::kNotFound);
  header.status_message = std::string(10000, 'e');
  ASSERT_TRUE(server_->Send(header, nullptr, Soon()).ok());
  header.status_message = "no such thing";
  ASSERT_TRUE(server_->Send(header, nullptr, Soon()).ok());

  Result<InboundMessage> cut = client_->Receive(Soon());
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->header.status_code, static_cast<uint32_t>(StatusCode::kNotFound));
  EXPECT_EQ(cut->header.status_message, std::string(kMaxStatusMessageBytes, 'e'));
  EXPECT_EQ(cut->payload.data(), nullptr);
  Result<InboundMessage> whole = client_->Receive(Soon());
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->header.status_message, "no such thing");
  EXPECT_EQ(FreeSlots(Shm(client_).segment()), kSlots);
}

TEST_F(ShmLinkTest, ErrorReplyWithAPayloadIsRefused) {
  OutgoingMessage reply = Build(*server_, 10);
  CallHeader header = Header(FrameType::kReply, 5);
  header.status_code = static_cast<uint32_t>(StatusCode::kInternal);
  EXPECT_EQ(server_->Send(header, &reply, Soon()).code(), StatusCode::kInvalidArgument);
}

TEST_F(ShmLinkTest, ControlFramesAndStreamMessagesTravelBothWays) {
  CallHeader window = Header(FrameType::kWindow, 3);
  window.window_messages = 10;
  window.window_bytes = 1 << 20;
  window.acked_messages = 2;
  window.acked_bytes = 300;
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 1), nullptr, Soon()).ok());
  ASSERT_TRUE(client_->Send(Header(FrameType::kHalfClose, 2), nullptr, Soon()).ok());
  ASSERT_TRUE(client_->Send(window, nullptr, Soon()).ok());
  OutgoingMessage message = Build(*server_, 100);
  ASSERT_TRUE(server_->Send(Header(FrameType::kMessage, 3), &message, Soon()).ok());
  ASSERT_TRUE(server_->Send(window, nullptr, Soon()).ok());

  for (FrameType type : {FrameType::kCancel, FrameType::kHalfClose, FrameType::kWindow}) {
    Result<InboundMessage> got = server_->Receive(Soon());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->header.type, type);
    EXPECT_EQ(got->payload.data(), nullptr);
    EXPECT_TRUE(got->payload_status.ok());
    if (type == FrameType::kWindow) {
      EXPECT_EQ(got->header.window_messages, 10U);
      EXPECT_EQ(got->header.window_bytes, 1U << 20);
      EXPECT_EQ(got->header.acked_messages, 2U);
      EXPECT_EQ(got->header.acked_bytes, 300U);
    }
  }
  Result<InboundMessage> streamed = client_->Receive(Soon());
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(streamed->header.type, FrameType::kMessage);
  EXPECT_EQ(RefusalLength(streamed->payload), 100);
  Result<InboundMessage> acked = client_->Receive(Soon());
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->header.acked_bytes, 300U);
}

TEST_F(ShmLinkTest, SendRefusesMessagesFromElsewhereUnfinishedOrTooLarge) {
  OutgoingMessage foreign = Build(*server_, 10);
  EXPECT_EQ(client_->Send(Header(FrameType::kRequest, 1), &foreign, Soon()).code(),
            StatusCode::kInvalidArgument);
  OutgoingMessage unfinished = client_->NewMessage(64);
  EXPECT_EQ(client_->Send(Header(FrameType::kRequest, 1), &unfinished, Soon()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->max_message_bytes(), 16384U);
  OutgoingMessage huge = Build(*client_, 20000, 0);
  EXPECT_EQ(client_->Send(Header(FrameType::kRequest, 1), &huge, Soon()).code(),
            StatusCode::kResourceExhausted);
}

TEST_F(ShmLinkTest, MessageBuiltWhileEverySlotIsTakenIsCopiedIntoOneWhenSent) {
  shm::Segment& segment = Shm(client_).segment();
  std::atomic<bool> closed{false};
  std::vector<uint32_t> taken;
  for (size_t i = 0; i < kSlots; ++i) taken.push_back(*segment.AcquireSlot(1, Soon(), closed));
  OutgoingMessage request = Build(*client_, 1000);  // on the heap, after slot_wait
  for (uint32_t slot : taken) segment.ReleaseSlot(slot);
  ASSERT_TRUE(client_->Send(Header(FrameType::kRequest, 1), &request, Soon()).ok());
  EXPECT_GT(client_->bytes_copied(), 0U);
  Result<InboundMessage> got = server_->Receive(Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(RefusalLength(got->payload), 1000);
}

TEST_F(ShmLinkTest, ForgedDescriptorNamingASlotTheReceiverHoldsFailsThatMessageOnly) {
  // The server is building in a slot; a hostile client names that slot.
  OutgoingMessage building = Build(*server_, 100);
  shm::Segment& server_segment = Shm(server_).segment();
  const uint32_t held = HeldSlot(server_segment);
  ASSERT_NE(held, shm::kNoIndex);
  shm::Descriptor forged{};
  forged.type = static_cast<uint8_t>(FrameType::kRequest);
  forged.call_id = 9;
  forged.slot = held;
  forged.length = 64;
  ASSERT_EQ(Shm(client_).segment().to_server_ring().TryPush(forged),
            shm::DescriptorRing::PushResult::kPushed);

  Result<InboundMessage> got = server_->Receive(Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->header.call_id, 9U);
  EXPECT_EQ(got->payload_status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(got->payload.data(), nullptr);
  EXPECT_TRUE(server_segment.HeldHere(held)) << "the server's own slot was not touched";

  // The link goes on.
  OutgoingMessage request = Build(*client_, 10);
  ASSERT_TRUE(client_->Send(Header(FrameType::kRequest, 10), &request, Soon()).ok());
  Result<InboundMessage> next = server_->Receive(Soon());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->header.call_id, 10U);
  EXPECT_TRUE(next->payload_status.ok());
}

TEST_F(ShmLinkTest, ForgedDescriptorNamingMemoryOutsideItsSlotFailsThatMessageAndFreesTheSlot) {
  shm::Segment& segment = Shm(client_).segment();
  std::atomic<bool> closed{false};
  Result<uint32_t> slot = segment.AcquireSlot(1, Soon(), closed);
  ASSERT_TRUE(slot.ok());
  segment.HandOver(*slot);
  shm::Descriptor forged{};
  forged.type = static_cast<uint8_t>(FrameType::kRequest);
  forged.call_id = 11;
  forged.slot = *slot;
  forged.offset = 4000;
  forged.length = 200;  // past the end of a 4 KiB slot
  ASSERT_EQ(segment.to_server_ring().TryPush(forged), shm::DescriptorRing::PushResult::kPushed);
  forged.slot = shm::MakeSlotId(6, 0);  // no such class
  forged.offset = 0;
  ASSERT_EQ(segment.to_server_ring().TryPush(forged), shm::DescriptorRing::PushResult::kPushed);

  for (int i = 0; i < 2; ++i) {
    Result<InboundMessage> got = server_->Receive(Soon());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->payload_status.code(), StatusCode::kDataLoss);
    EXPECT_EQ(got->payload.data(), nullptr);
  }
  EXPECT_EQ(FreeSlots(segment), kSlots);
  EXPECT_TRUE(server_->connected());
}

TEST_F(ShmLinkTest, UnknownFrameTypeEndsTheLinkWithDataLossAndThePeerNotices) {
  shm::Descriptor forged{};
  forged.type = kMaxFrameType + 1;
  forged.slot = shm::kNoIndex;
  ASSERT_EQ(Shm(client_).segment().to_server_ring().TryPush(forged),
            shm::DescriptorRing::PushResult::kPushed);
  EXPECT_EQ(server_->Receive(Soon()).status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(server_->connected());
  EXPECT_EQ(client_->Receive(Soon()).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(client_->connected());
}

TEST_F(ShmLinkTest, PeerShutdownMakesAWaitingReceiveUnavailablePromptly) {
  std::optional<Result<InboundMessage>> got;
  std::thread receiver([&] { got.emplace(client_->Receive(Clock::now() + 60s)); });
  const auto start = Clock::now();
  server_->Shutdown();
  receiver.join();
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable) << got->status();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_FALSE(client_->connected());
  EXPECT_EQ(server_->Receive(Soon()).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_->Send(Header(FrameType::kWindow, 1), nullptr, Soon()).code(),
            StatusCode::kUnavailable);
}

TEST_F(ShmLinkTest, MessagesSentBeforeThePeerLeftAreStillDelivered) {
  OutgoingMessage reply = Build(*server_, 50);
  ASSERT_TRUE(server_->Send(Header(FrameType::kReply, 1), &reply, Soon()).ok());
  server_.reset();  // joins its watcher, unmaps nothing the client reads
  Result<InboundMessage> got = client_->Receive(Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(RefusalLength(got->payload), 50);
  EXPECT_EQ(client_->Receive(Soon()).status().code(), StatusCode::kUnavailable);
}

TEST_F(ShmLinkTest, LocalShutdownFailsSendAndReceiveAndTheServerNotices) {
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 1), nullptr, Soon()).ok());
  client_->Shutdown();
  client_->Shutdown();  // idempotent
  EXPECT_EQ(client_->Receive(Soon()).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client_->Send(Header(FrameType::kCancel, 2), nullptr, Soon()).code(),
            StatusCode::kUnavailable);
  Result<InboundMessage> sent_before = server_->Receive(Soon());
  ASSERT_TRUE(sent_before.ok()) << sent_before.status();
  EXPECT_EQ(server_->Receive(Soon()).status().code(), StatusCode::kUnavailable);
}

TEST_F(ShmLinkTest, ReceiveGivesUpAtItsDeadlineAndTheLinkStaysUsable) {
  EXPECT_EQ(client_->Receive(Clock::now() + 20ms).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_->Receive(Clock::now()).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(client_->connected());
  ASSERT_TRUE(server_->Send(Header(FrameType::kWindow, 1), nullptr, Soon()).ok());
  EXPECT_TRUE(client_->Receive(Soon()).ok());
}

TEST_F(ShmLinkTest, SendWaitsForRoomInAFullRingUntilItsDeadline) {
  for (uint32_t i = 0; i < shm::kMinRingDepth; ++i) {
    ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, i), nullptr, Soon()).ok());
  }
  EXPECT_EQ(client_->Send(Header(FrameType::kCancel, 999), nullptr, Clock::now() + 20ms).code(),
            StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(server_->Receive(Soon()).ok());
  EXPECT_TRUE(client_->Send(Header(FrameType::kCancel, 999), nullptr, Soon()).ok());
}

TEST_F(ShmLinkTest, ConcurrentSendersGetEveryMessageAcrossOnceWhileSlotsAreReused) {
  constexpr uint64_t kSenders = 3, kEach = 500, kCalls = kSenders * kEach;
  // As the engine bounds calls in flight: with at most 8 open here, requests never hold every
  // slot while a reply waits for one (a pool that small would then wait out the deadline).
  std::counting_semaphore<> open_calls(8);
  // Any failure ends both links, so that every thread returns at once.
  const auto fail = [&](const std::string& what) {
    ADD_FAILURE() << what;
    client_->Shutdown();
    server_->Shutdown();
    open_calls.release(kCalls);
  };
  std::vector<std::thread> senders;
  for (uint64_t s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (uint64_t i = 0; i < kEach; ++i) {
        open_calls.acquire();
        OutgoingMessage request = Build(*client_, 100 + i, 0);
        const Status sent =
            client_->Send(Header(FrameType::kRequest, s * kEach + i), &request, Soon());
        if (!sent.ok()) return fail("request: " + sent.ToString());
      }
    });
  }
  // The server answers each request with a reply naming it; the client reads the replies.
  std::thread server([&] {
    for (uint64_t n = 0; n < kCalls; ++n) {
      Result<InboundMessage> got = server_->Receive(Soon());
      if (!got.ok()) return fail("server receive: " + got.status().ToString());
      if (RefusalLength(got->payload) != static_cast<int>(100 + got->header.call_id % kEach)) {
        return fail("request " + std::to_string(got->header.call_id) + " arrived damaged");
      }
      got->payload = IncomingMessage();
      OutgoingMessage reply = Build(*server_, 10, 0);
      const Status sent =
          server_->Send(Header(FrameType::kReply, got->header.call_id), &reply, Soon());
      if (!sent.ok()) return fail("reply: " + sent.ToString());
    }
  });
  std::vector<int> seen(kCalls);
  for (uint64_t n = 0; n < kCalls; ++n) {
    Result<InboundMessage> answer = client_->Receive(Soon());
    if (!answer.ok() || answer->header.call_id >= kCalls) {
      fail("client receive: " + answer.status().ToString());
      break;
    }
    ++seen[answer->header.call_id];
    answer->payload = IncomingMessage();
    open_calls.release();
  }
  for (std::thread& sender : senders) sender.join();
  server.join();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<ptrdiff_t>(kCalls));
  EXPECT_EQ(FreeSlots(Shm(client_).segment()), kSlots);
}

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

void Drain(int fd) {
  uint64_t count;
  while (read(fd, &count, sizeof(count)) > 0) {
  }
}

class PolledShmLinkTest : public ShmLinkTest {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<ServerLoop>> loop = ServerLoop::Create(1, 1, nullptr);
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *loop;
    ShmLinkTest::SetUp();
  }
};

TEST_F(PolledShmLinkTest, TheDoorbellRingsForAParkedLinkOnlyAndPollNeverSleeps) {
  const MessageLink::Doorbells doorbells = server_->doorbells();
  ASSERT_GE(doorbells.inbound, 0);
  ASSERT_GE(doorbells.liveness, 0);
  Drain(doorbells.inbound);
  server_->AllowSpinning(false);
  Result<InboundMessage> none = server_->Poll();
  EXPECT_EQ(none.status().code(), StatusCode::kDeadlineExceeded);

  // Read again (unparked): a message is taken without a ring.
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 1), nullptr, Soon()).ok());
  EXPECT_FALSE(Readable(doorbells.inbound));
  Result<InboundMessage> first = server_->Poll();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->header.call_id, 1U);

  // Parked: the next message rings, once for a burst.
  ASSERT_TRUE(server_->Park());
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 2), nullptr, Soon()).ok());
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 3), nullptr, Soon()).ok());
  EXPECT_TRUE(Readable(doorbells.inbound));
  uint64_t rings = 0;
  ASSERT_EQ(read(doorbells.inbound, &rings, sizeof(rings)), static_cast<ssize_t>(sizeof(rings)));
  EXPECT_EQ(rings, 1U);
  // Parking with a message waiting says so, instead of leaving it to a ring that won't come.
  EXPECT_FALSE(server_->Park());
  for (uint64_t id : {2, 3}) {
    Result<InboundMessage> got = server_->Poll();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->header.call_id, id);
  }
  // Unparked, a message rings no more.
  server_->Unpark();
  ASSERT_TRUE(client_->Send(Header(FrameType::kCancel, 4), nullptr, Soon()).ok());
  EXPECT_FALSE(Readable(doorbells.inbound));
  ASSERT_TRUE(server_->Poll().ok());
}

TEST_F(PolledShmLinkTest, ThePeerLeavingIsFoundThroughTheLivenessDoorbell) {
  const MessageLink::Doorbells doorbells = server_->doorbells();
  EXPECT_FALSE(Readable(doorbells.liveness));
  server_->CheckPeer();  // nothing to see: the link stays
  EXPECT_TRUE(server_->connected());
  client_.reset();
  EXPECT_TRUE(Readable(doorbells.liveness));
  server_->CheckPeer();
  EXPECT_FALSE(server_->connected());
  EXPECT_EQ(server_->Poll().status().code(), StatusCode::kUnavailable);
}

TEST(ShmHandshake, AClientWhoseMappedCarriesNoEventfdIsRefused) {
  ServerOptions options;
  options.shm.slot_classes = {{4096, 8}};
  options.shm.max_calls_in_flight = 4;
  LogLimiter log;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Fd server_socket(fds[0]);
  Fd client_socket(fds[1]);
  const ConnectionEnv env{.endpoint = "shm://test",
                          .methods = nullptr,
                          .counters = nullptr,
                          .interceptors = nullptr,
                          .options = &options,
                          .on_finished = {},
                          .upgrade_path = {},
                          .log = &log,
                          .budget = nullptr,
                          .loop = nullptr};
  std::optional<Result<std::shared_ptr<MessageLink>>> server;
  std::thread handshake([&] { server.emplace(OpenShmServerLink(server_socket.get(), env)); });
  ASSERT_TRUE(SendHello(client_socket.get()).ok());
  Result<WelcomeInfo> welcome = ReceiveWelcome(client_socket.get(), Soon());
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  Fd pipe_read(pipe_fds[0]);
  Fd pipe_write(pipe_fds[1]);
  ASSERT_TRUE(SendMapped(client_socket.get(), pipe_read.get()).ok());  // not an eventfd
  handshake.join();
  ASSERT_FALSE(server->ok());
  EXPECT_EQ(server->status().code(), StatusCode::kDataLoss);
  EXPECT_NE(server->status().message().find("eventfd"), std::string::npos) << server->status();
}

}  // namespace
}  // namespace ferry::internal
