// Messages through the segment: a payload stays in the slot it was built in and a descriptor
// on the ring of its direction names it; the rendezvous socket watches the peer; both sides'
// handshakes.
#include "shm/shm_link.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "call/handshake.h"
#include "call/link_server_connection.h"
#include "os/deadline.h"
#include "shm/slot_allocator.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;

// Sleeps are cut into slices so that a missed wake-up costs at most this much. A peer that
// dies closes the link (which wakes every sleeper), so only a broken peer can make one be
// missed; an idle link wakes this rarely, which costs nothing measurable (at 1 s, a server
// with 1,000 idle clients spent 3% of a core on it).
constexpr auto kWaitSlice = 10s;
// How long one stretch of busy polling lasts before the link's state is looked at again.
constexpr auto kBusyPollSlice = 1ms;
// How long the server stays awake for a message the client is building.
constexpr auto kBuildingSpinLimit = 20ms;
// How long an error reply waits for a slot for its status message before going without it.
constexpr auto kStatusSlotWait = 10ms;
constexpr uint16_t kUnknownCpu = 0xffff;
// How much of a received payload is prefetched (a dozen lines: what a core can have in flight).
constexpr size_t kPrefetchBytes = 12 * shm::kCacheLine;

// Such a reply's slot holds its status message, not a payload.
bool IsErrorReply(const shm::Descriptor& d) {
  return d.type == static_cast<uint8_t>(FrameType::kReply) &&
         d.method_status_or_acked_messages != 0;
}

shm::Descriptor DescriptorOf(const CallHeader& h) {
  shm::Descriptor d{};
  d.call_id = h.call_id;
  d.window_bytes = h.window_bytes;
  d.window_messages = h.window_messages;
  d.slot = shm::kNoIndex;
  d.type = static_cast<uint8_t>(h.type);
  d.kind = h.kind;
  switch (h.type) {
    case FrameType::kRequest:
      d.deadline_us_or_acked_bytes = h.deadline_us;
      d.method_status_or_acked_messages = h.method_id;
      break;
    case FrameType::kReply:
      d.method_status_or_acked_messages = h.status_code;
      break;
    case FrameType::kWindow:
      d.deadline_us_or_acked_bytes = h.acked_bytes;
      d.method_status_or_acked_messages = h.acked_messages;
      break;
    default:
      break;
  }
  const int cpu = shm::CurrentCpu();
  d.sender_cpu = cpu >= 0 && cpu < kUnknownCpu ? static_cast<uint16_t>(cpu) : kUnknownCpu;
  return d;
}

CallHeader HeaderOf(const shm::Descriptor& d) {
  CallHeader h;
  h.type = static_cast<FrameType>(d.type);
  h.call_id = d.call_id;
  h.kind = d.kind;
  h.window_messages = d.window_messages;
  h.window_bytes = d.window_bytes;
  switch (h.type) {
    case FrameType::kRequest:
      h.deadline_us = d.deadline_us_or_acked_bytes;
      h.method_id = d.method_status_or_acked_messages;
      break;
    case FrameType::kReply:
      h.status_code = d.method_status_or_acked_messages;
      break;
    case FrameType::kWindow:
      h.acked_bytes = d.deadline_us_or_acked_bytes;
      h.acked_messages = d.method_status_or_acked_messages;
      break;
    default:
      break;
  }
  return h;
}

}  // namespace

struct ShmLink::Shared final : MessageOwner {
  explicit Shared(std::shared_ptr<shm::Segment> s) : segment(std::move(s)) {}
  void ReleaseMessage(uint64_t slot) override { segment->ReleaseSlot(static_cast<uint32_t>(slot)); }

  const std::shared_ptr<shm::Segment> segment;
  std::atomic<bool> closed{false};  // peer gone or link shut down: waits for slots stop
  std::atomic<uint64_t> bytes_copied{0};
};

ShmLink::ShmLink(Role role, std::shared_ptr<shm::Segment> segment, Fd owned_socket, int socket,
                 Fd doorbell, std::string peer, std::chrono::milliseconds slot_wait,
                 bool busy_poll, LogLimiter* log)
    : role_(role),
      shared_(std::make_shared<Shared>(std::move(segment))),
      segment_(*shared_->segment),
      outbound_(role == Role::kClient ? segment_.to_server_ring() : segment_.to_client_ring()),
      inbound_(role == Role::kClient ? segment_.to_client_ring() : segment_.to_server_ring()),
      owned_socket_(std::move(owned_socket)),
      socket_(socket),
      doorbell_(std::move(doorbell)),
      peer_(std::move(peer)),
      slot_wait_(slot_wait),
      busy_poll_(busy_poll),
      log_(log) {
  if (role_ == Role::kClient && doorbell_.valid()) outbound_.SetDoorbell(doorbell_.get());
}

Result<std::unique_ptr<ShmLink>> ShmLink::ForClient(std::shared_ptr<shm::Segment> segment,
                                                    Fd socket, Fd doorbell, std::string peer,
                                                    std::chrono::milliseconds slot_wait,
                                                    bool busy_poll) {
  const int fd = socket.get();
  return Start(std::unique_ptr<ShmLink>(new ShmLink(Role::kClient, std::move(segment),
                                                    std::move(socket), fd, std::move(doorbell),
                                                    std::move(peer), slot_wait, busy_poll,
                                                    nullptr)));
}

Result<std::unique_ptr<ShmLink>> ShmLink::ForServer(std::shared_ptr<shm::Segment> segment,
                                                    int socket, Fd doorbell,
                                                    std::chrono::milliseconds slot_wait,
                                                    bool busy_poll, LogLimiter* log, bool polled) {
  if (polled && !doorbell.valid()) {
    return Status::InvalidArgument("a polled shared-memory link needs a doorbell");
  }
  std::unique_ptr<ShmLink> link(new ShmLink(Role::kServer, std::move(segment), Fd(), socket,
                                            std::move(doorbell), "the client", slot_wait,
                                            busy_poll, log));
  if (polled) return link;
  return Start(std::move(link));
}

Result<std::unique_ptr<ShmLink>> ShmLink::Start(std::unique_ptr<ShmLink> link) {
  try {
    ShmLink* watched = link.get();
    link->watcher_ = std::thread([watched] { watched->WatchPeer(); });
  } catch (const std::system_error& e) {
    return Status::ResourceExhausted(std::string("cannot start the connection's thread: ") +
                                     e.what());
  }
  return link;
}

ShmLink::~ShmLink() {
  Shutdown();  // ends WatchPeer's recv
  if (watcher_.joinable()) watcher_.join();
}

void ShmLink::WatchPeer() {
  char byte;
  ssize_t n;
  // After the handshake the peer sends nothing: any return means it is gone (or broke the
  // protocol, which ends the link all the same).
  while ((n = recv(socket_, &byte, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n > 0) LogPeer("client wrote on the liveness socket; disconnecting it");
  Close();
}

void ShmLink::CheckPeer() {
  char byte;
  const ssize_t n = recv(socket_, &byte, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n > 0) LogPeer("client wrote on the liveness socket; disconnecting it");
  Close();
}

void ShmLink::Close() {
  shared_->closed.store(true, std::memory_order_seq_cst);
  shutdown(socket_, SHUT_RDWR);  // the peer notices at once
  // Before any sleeper's next check: each re-reads `closed` after waking.
  inbound_.Nudge();
  outbound_.Nudge();
  // Our reader sleeps on it, not on the futex.
  if (role_ == Role::kServer && doorbell_.valid()) RingEventFd(doorbell_.get());
}

MessageLink::Doorbells ShmLink::doorbells() const {
  if (role_ != Role::kServer || watcher_.joinable() || !doorbell_.valid()) return {};
  return Doorbells{doorbell_.get(), socket_};
}

bool ShmLink::Park() {
  if (!inbound_.PrepareToWait()) return false;
  if (!parked_since_) parked_since_ = Clock::now();
  return true;
}

void ShmLink::Unpark() {
  inbound_.CancelWait();
  parked_since_.reset();
}

void ShmLink::WaitForDoorbell(Clock::duration timeout) {
  if (!inbound_.PrepareToWait()) return;
  pollfd ring{doorbell_.get(), POLLIN, 0};
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  if (poll(&ring, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30))) > 0) {
    DrainEventFd(doorbell_.get());
  }
}

void ShmLink::Shutdown() {
  shut_down_.store(true, std::memory_order_seq_cst);
  Close();
}

bool ShmLink::connected() const { return !shared_->closed.load(std::memory_order_acquire); }

uint64_t ShmLink::bytes_copied() const {
  return shared_->bytes_copied.load(std::memory_order_relaxed);
}

uint64_t ShmLink::max_message_bytes() const { return segment_.largest_slot_bytes(); }

shm::Segment& ShmLink::segment() { return segment_; }

Status ShmLink::Gone() const {
  if (shut_down_.load(std::memory_order_acquire)) {
    return Status::Unavailable("the shared-memory link to " + peer_ + " was shut down");
  }
  return Status::Unavailable(peer_ + " went away");
}

void ShmLink::LogPeer(std::string_view line) {
  if (log_ != nullptr) log_->Log(line);
}

OutgoingMessage ShmLink::NewMessage(size_t size_hint) {
  shm::DescriptorRing* building = role_ == Role::kClient ? &outbound_ : nullptr;
  auto allocator = std::make_unique<shm::SlotAllocator>(
      shared_, segment_, slot_wait_, shared_->bytes_copied, shared_->closed, building);
  // Announce the message so that an idle server wakes (and spins) while we build it; the
  // allocator ends the announcement when the message is sent or dropped.
  // Waking it means that the answer will take a wake-up: not worth spinning for (woke_peer_).
  if (building != nullptr &&
      building->BeginBuilding(shm::SpinningCanHelp(peer_cpu_.load(std::memory_order_relaxed)))) {
    woke_peer_.store(true, std::memory_order_relaxed);
  }
  return OutgoingMessage(std::move(allocator), size_hint);
}

Status ShmLink::Send(const CallHeader& header, OutgoingMessage* payload,
                     Clock::time_point deadline) {
  if (!connected()) return Gone();
  shm::Descriptor d = DescriptorOf(header);
  const bool error_reply = IsErrorReply(d);
  if (payload != nullptr) {
    if (error_reply) {
      return Status::InvalidArgument("a reply with an error status carries no payload");
    }
    if (Status placed = Place(*payload, deadline, d); !placed.ok()) return placed;
  } else if (error_reply && !header.status_message.empty()) {
    PlaceStatusMessage(header.status_message, d);
  }
  d.pushed_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count() -
      wake_delay_ns_.exchange(0, std::memory_order_relaxed));
  bool woke = false;
  const shm::DescriptorRing::PushResult pushed =
      outbound_.Push<Clock>(d, deadline, [this] { return !connected(); }, &woke);
  if (pushed == shm::DescriptorRing::PushResult::kPushed) {
    if (woke && role_ == Role::kClient) woke_peer_.store(true, std::memory_order_relaxed);
    if (payload != nullptr) *payload = OutgoingMessage();  // ends its "being built"
    return Status::Ok();
  }
  // The payload's slot went to the descriptor: the message cannot be sent again.
  if (d.slot != shm::kNoIndex) segment_.ReleaseSlot(d.slot);
  if (payload != nullptr) *payload = OutgoingMessage();
  if (pushed == shm::DescriptorRing::PushResult::kCorrupt) {
    LogPeer("client corrupted the shared ring; disconnecting it");
    Shutdown();
    return Status::DataLoss("the shared ring to " + peer_ + " is corrupt");
  }
  if (!connected()) return Gone();
  return Status::DeadlineExceeded(peer_ + " took no message before the deadline (ring full)");
}

bool ShmLink::Owns(const OutgoingMessage& message) const {
  auto* allocator = dynamic_cast<shm::SlotAllocator*>(message.allocator());
  return allocator != nullptr && allocator->BelongsTo(segment_);
}

Status ShmLink::Place(OutgoingMessage& payload, Clock::time_point deadline, shm::Descriptor& d) {
  if (!Owns(payload)) {
    return Status::InvalidArgument("the message was built for another channel or stream");
  }
  auto* allocator = static_cast<shm::SlotAllocator*>(payload.allocator());
  if (!payload.finished()) {
    return Status::InvalidArgument("the message was not finished (call Finish on its builder)");
  }
  if (Status usable = allocator->Usable(); !usable.ok()) return usable;
  flatbuffers::FlatBufferBuilder& fbb = payload.fbb();
  const uint32_t length = fbb.GetSize();
  // A message built while every slot was taken waits here for one, by the deadline.
  Result<uint8_t*> placed = allocator->Place(fbb.GetBufferPointer(), length, deadline);
  if (!placed.ok()) {
    if (!connected()) return Gone();
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded(
          "no shared-memory slot for the message freed up before the deadline");
    }
    return placed.status();
  }
  const uint8_t* data = *placed;
  size_t reserved = 0, start = 0;
  fbb.ReleaseRaw(reserved, start);  // the slot now belongs to the descriptor, not the builder
  d.slot = allocator->Detach();
  d.offset = static_cast<uint32_t>(data - segment_.SlotBase(d.slot));
  d.length = length;
  return Status::Ok();
}

void ShmLink::PlaceStatusMessage(const std::string& text, shm::Descriptor& d) {
  // Cut again: never more than the protocol allows, nor than a slot holds.
  const size_t length =
      std::min({text.size(), kMaxStatusMessageBytes, segment_.largest_slot_bytes()});
  Result<uint32_t> slot =
      segment_.AcquireSlot(length, Clock::now() + kStatusSlotWait, shared_->closed);
  if (!slot.ok()) return;  // the code alone still reaches the peer
  std::memcpy(segment_.SlotBase(*slot), text.data(), length);
  segment_.HandOver(*slot);
  d.slot = *slot;
  d.offset = 0;
  d.length = static_cast<uint32_t>(length);
}

Result<InboundMessage> ShmLink::Receive(Clock::time_point deadline) {
  return Take(deadline, /*may_sleep=*/true);
}

Result<InboundMessage> ShmLink::Poll() { return Take(Clock::time_point::max(), false); }

Result<InboundMessage> ShmLink::Take(Clock::time_point deadline, bool may_sleep) {
  shm::Descriptor d{};
  auto pop = [&] { return inbound_.Pop(d); };
  // A polled link that was parked waited (in epoll) since it parked.
  const std::optional<Clock::time_point> parked = std::exchange(parked_since_, std::nullopt);
  // Parked, we are here because the doorbell rang (a push, or a message begun): as after a
  // sleep, a message being built may be spun for again.
  if (parked) building_spin_until_.reset();
  if (!parked && pop()) {
    spinner_.Learn(Clock::duration::zero());  // already there
  } else {
    const Clock::time_point start = parked.value_or(Clock::now());
    bool slept = parked.has_value();
    if (!(parked && pop())) {
      if (Status s = AwaitDescriptor(pop, deadline, may_sleep, &slept); !s.ok()) {
        parked_since_ = parked;  // still waiting since then
        return s;
      }
    }
    // The peer's word, a hint only: bounded so that no arithmetic on it can overflow.
    const Clock::time_point pushed{std::chrono::duration_cast<Clock::duration>(
        std::chrono::nanoseconds(static_cast<int64_t>(
            std::min<uint64_t>(d.pushed_ns, std::numeric_limits<int64_t>::max() / 4))))};
    spinner_.Learn(pushed - start);
    if (slept) {
      const auto late = Clock::now() - std::max(pushed, start);
      wake_delay_ns_.store(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(late).count()),
          std::memory_order_relaxed);
    }
  }
  woke_peer_.store(false, std::memory_order_relaxed);
  building_spin_until_.reset();
  return Accept(d);
}

template <class Pop>
Status ShmLink::AwaitDescriptor(Pop& pop, Clock::time_point deadline, bool may_sleep,
                                bool* slept) {
  bool spun = false;
  // Messages a departed peer left are still delivered; after Shutdown() nothing is.
  while (!shut_down_.load(std::memory_order_acquire)) {
    // The last message says where the peer ran: no use spinning on its very CPU.
    const int peer_cpu = peer_cpu_.load(std::memory_order_relaxed);
    const bool may_spin =
        spinning_allowed_.load(std::memory_order_relaxed) && shm::SpinningCanHelp(peer_cpu);
    if (may_spin && busy_poll_) {
      if (shm::LearnedSpinner::Spin(pop, std::min(deadline, Clock::now() + kBusyPollSlice))) {
        return Status::Ok();
      }
      if (!connected()) return Gone();
      if (Clock::now() >= deadline || !may_sleep) {
        return Status::DeadlineExceeded("nothing arrived from " + peer_ + " before the deadline");
      }
      continue;
    }
    // One spin per wait, while messages have been coming soon after waits began, unless the
    // answer we wait for must first wake the peer.
    const std::chrono::nanoseconds spin = spinner_.spin_limit();
    if (may_spin && !spun && spin > std::chrono::nanoseconds::zero() &&
        !woke_peer_.load(std::memory_order_relaxed)) {
      spun = true;
      if (spinner_.SpinOnce(pop, std::min(deadline, Clock::now() + spin))) return Status::Ok();
    }
    if (may_spin && role_ == Role::kServer && AwaitMessageBeingBuilt(pop, deadline)) {
      return Status::Ok();
    }
    const uint32_t signal = inbound_.Signal();
    if (pop()) return Status::Ok();
    if (!connected()) return Gone();
    const auto now = Clock::now();
    if (now >= deadline || !may_sleep) {
      return Status::DeadlineExceeded("nothing arrived from " + peer_ + " before the deadline");
    }
    // Closing nudges the ring, so the slice only bounds what a lost wake-up costs.
    *slept = true;
    const Clock::duration slice = std::min<Clock::duration>(deadline - now, kWaitSlice);
    if (role_ == Role::kServer && doorbell_.valid()) {
      WaitForDoorbell(slice);
    } else {
      inbound_.WaitForPush(signal, slice);
    }
    if (inbound_.Signal() != signal) building_spin_until_.reset();
  }
  return Gone();
}

template <class Pop>
bool ShmLink::AwaitMessageBeingBuilt(Pop& pop, Clock::time_point deadline) {
  // A client is writing a message (a large one takes milliseconds): stay awake for it, so it
  // does not pay a futex wake-up at the end. Bounded, for builders that are never sent.
  if (!inbound_.SomeoneBuilding()) return false;
  if (!building_spin_until_) building_spin_until_ = Clock::now() + kBuildingSpinLimit;
  const Clock::time_point stop = std::min(*building_spin_until_, deadline);
  for (uint32_t i = 1; inbound_.SomeoneBuilding() && connected(); ++i) {
    if (pop()) return true;
    __builtin_ia32_pause();
    if (i % 1024 == 0 && Clock::now() > stop) return false;
  }
  return pop();
}

Result<InboundMessage> ShmLink::Accept(const shm::Descriptor& d) {
  peer_cpu_.store(d.sender_cpu == kUnknownCpu ? -1 : d.sender_cpu, std::memory_order_relaxed);
  if (d.type > kMaxFrameType) {
    LogPeer("client sent a message of unknown type " + std::to_string(d.type) +
            "; disconnecting it");
    Shutdown();
    return Status::DataLoss(peer_ + " sent a message of unknown type " + std::to_string(d.type));
  }
  InboundMessage inbound;
  inbound.header = HeaderOf(d);
  if (d.slot == shm::kNoIndex) return inbound;
  if (segment_.HeldHere(d.slot)) {
    // A slot this side is building in (or otherwise holds): reading it, and then freeing it,
    // would let the peer corrupt our own message. Keep it; fail the call.
    LogPeer("client named a slot the server holds; its call fails with DATA_LOSS");
    inbound.payload_status = Status::DataLoss("the message names a slot its receiver holds");
    return inbound;
  }
  const uint8_t* bytes = segment_.Locate(d.slot, d.offset, d.length);
  if (bytes == nullptr) {
    segment_.ReleaseSlot(d.slot);  // nothing for an id that names no slot
    LogPeer("client named memory outside its slot; its call fails with DATA_LOSS");
    inbound.payload_status = Status::DataLoss("the message names memory outside its slot");
    return inbound;
  }
  if (IsErrorReply(d)) {
    inbound.header.status_message.assign(reinterpret_cast<const char*>(bytes),
                                         std::min<size_t>(d.length, kMaxStatusMessageBytes));
    segment_.ReleaseSlot(d.slot);
    return inbound;
  }
  // The peer has just written these lines: ask for all of them now, so that the verifier's
  // chain of dependent reads (root offset, table, vtable, fields) does not wait for one line
  // after another.
  const auto first_line = reinterpret_cast<uintptr_t>(bytes) & ~uintptr_t{shm::kCacheLine - 1};
  const uintptr_t end =
      reinterpret_cast<uintptr_t>(bytes) + std::min<size_t>(d.length, kPrefetchBytes);
  for (uintptr_t line = first_line; line < end; line += shm::kCacheLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
  inbound.payload = IncomingMessage(bytes, d.length, shared_, d.slot);
  return inbound;
}

Result<std::unique_ptr<MessageLink>> ConnectShmLink(const std::string& socket_path,
                                                    std::string_view endpoint_text,
                                                    const ConnectOptions& options,
                                                    Clock::time_point deadline) {
  Result<Fd> socket = ConnectUnix(socket_path, deadline);
  if (!socket.ok()) return socket.status();
  return OpenShmClientLink(std::move(*socket), socket_path, endpoint_text, options, deadline);
}

Result<std::unique_ptr<MessageLink>> OpenShmClientLink(Fd socket, const std::string& socket_path,
                                                       std::string_view endpoint_text,
                                                       const ConnectOptions& options,
                                                       Clock::time_point deadline) {
  // Shared memory is read in place, so the server must be trusted as much as this process:
  // the same user. (The server checks the client the same way.) This also keeps a squatter
  // on a socket server's upgrade name from serving the client.
  Result<uid_t> server_uid = PeerUid(socket.get());
  if (!server_uid.ok()) return server_uid.status();
  if (*server_uid != geteuid()) {
    return Status::PermissionDenied("the server at " + socket_path +
                                    " runs as another user; shared memory is used with "
                                    "processes of the same user only");
  }
  // If the Hello cannot be sent the server may have refused us already: its Refusal, still
  // readable, says why better than the send error does.
  const Status hello = SendHello(socket.get());
  Result<WelcomeInfo> welcome = ReceiveWelcome(socket.get(), deadline);
  if (!hello.ok() && welcome.ok()) return hello;
  if (!welcome.ok()) return welcome.status();
  if (welcome->layout_version != shm::kLayoutVersion) {
    return Status::FailedPrecondition("server uses shared-memory layout " +
                                      std::to_string(welcome->layout_version) + ", this client " +
                                      std::to_string(shm::kLayoutVersion));
  }
  Result<std::shared_ptr<shm::Segment>> segment =
      shm::Segment::Open(welcome->segment.Release(), welcome->segment_bytes);
  if (!segment.ok()) return segment.status();
  // The server waits for our requests on this (in epoll, with its other clients' doorbells).
  Fd doorbell(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!doorbell.valid()) {
    return Status::ResourceExhausted(std::string("eventfd: ") + std::strerror(errno));
  }
  if (Status s = SendMapped(socket.get(), doorbell.get()); !s.ok()) return s;
  Result<std::unique_ptr<ShmLink>> link =
      ShmLink::ForClient(std::move(*segment), std::move(socket), std::move(doorbell),
                         "the server at " + std::string(endpoint_text), options.slot_wait,
                         options.busy_poll);
  if (!link.ok()) return link.status();
  return std::unique_ptr<MessageLink>(std::move(*link));
}

Result<std::shared_ptr<MessageLink>> OpenShmServerLink(int socket, const ConnectionEnv& env) {
  const ServerOptions& options = *env.options;
  const Deadline deadline = DeadlineAfter(options.handshake_timeout);
  if (Status s = RefuseOtherUsers(socket, "shared memory is offered to"); !s.ok()) return s;
  if (Result<HelloInfo> hello = ReceiveHello(socket, deadline); !hello.ok()) {
    return hello.status();
  }
  Result<std::shared_ptr<shm::Segment>> segment = shm::Segment::Create(options.shm);
  if (!segment.ok()) {
    (void)SendRefusal(socket, segment.status());
    return segment.status();
  }
  Status s = SendWelcome(socket, (*segment)->size(), shm::kLayoutVersion, (*segment)->descriptor());
  Fd doorbell;
  if (s.ok()) s = ReceiveMapped(socket, deadline, &doorbell);
  (*segment)->CloseDescriptor();  // both sides have it mapped (or the handshake failed)
  if (!s.ok()) return s;
  if (!IsEventFd(doorbell.get())) {
    return Status::DataLoss("the client's Mapped did not carry an eventfd (its doorbell)");
  }
  Result<std::unique_ptr<ShmLink>> link =
      ShmLink::ForServer(std::move(*segment), socket, std::move(doorbell), options.slot_wait,
                         options.busy_poll, env.log, /*polled=*/env.loop != nullptr);
  if (!link.ok()) return link.status();
  return std::shared_ptr<MessageLink>(std::move(*link));
}

std::shared_ptr<ServerConnection> NewShmConnection(Fd client, ConnectionEnv env) {
  return std::make_shared<LinkServerConnection>(std::move(client), &OpenShmServerLink,
                                                std::move(env));
}

}  // namespace ferry::internal
