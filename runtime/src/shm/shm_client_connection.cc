// Client calls over shared memory: build in a slot, push a descriptor, wait on the call cell.
#include "shm/shm_client_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <climits>
#include <cstring>

#include "os/deadline.h"
#include "call/handshake.h"
#include "shm/futex.h"
#include "shm/peer_sync.h"
#include "shm/slot_allocator.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;

// Waits are cut into slices so that a missed wake-up costs at most this much.
constexpr auto kWaitSlice = 50ms;

int64_t MonotonicNanos(Clock::time_point t) {
  if (t == Clock::time_point::max()) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Status Disconnected(const std::string& endpoint) {
  return Status::Unavailable("the server at " + endpoint + " went away");
}

}  // namespace

Result<std::shared_ptr<ShmClientConnection>> ShmClientConnection::Connect(
    const std::string& socket_path, std::string_view text, const ConnectOptions& options,
    Deadline deadline) {
  Result<Fd> socket = ConnectUnix(socket_path, deadline);
  if (!socket.ok()) return socket.status();
  // Shared memory is read in place, so the server must be trusted as much as this process:
  // the same user. (The server checks the client the same way.) This also keeps a squatter
  // on a socket server's upgrade name from serving the client.
  Result<uid_t> server_uid = PeerUid(socket->get());
  if (!server_uid.ok()) return server_uid.status();
  if (*server_uid != geteuid()) {
    return Status::PermissionDenied("the server at " + socket_path +
                                    " runs as another user; shared memory is used with "
                                    "processes of the same user only");
  }
  // If the Hello cannot be sent the server may have refused us already: its Refusal, still
  // readable, says why better than the send error does.
  const Status hello = SendHello(socket->get());
  Result<WelcomeInfo> welcome = ReceiveWelcome(socket->get(), deadline);
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
  if (Status s = SendMapped(socket->get()); !s.ok()) return s;
  try {
    return std::shared_ptr<ShmClientConnection>(new ShmClientConnection(
        std::string(text), std::move(*socket), std::move(*segment), options));
  } catch (const std::system_error& e) {  // the watcher thread could not start
    return Status::ResourceExhausted(std::string("cannot start the connection's thread: ") +
                                     e.what());
  }
}

ShmClientConnection::ShmClientConnection(std::string endpoint, Fd socket,
                                   std::shared_ptr<shm::Segment> segment,
                                   const ConnectOptions& options)
    : endpoint_(std::move(endpoint)),
      socket_(std::move(socket)),
      segment_(std::move(segment)),
      options_(options) {
  watcher_ = std::thread([this] { WatchPeer(); });
}

ShmClientConnection::~ShmClientConnection() {
  shutdown(socket_.get(), SHUT_RDWR);  // ends WatchPeer's recv
  watcher_.join();
}

void ShmClientConnection::WatchPeer() {
  char byte;
  // After the handshake the server sends nothing: any return means it is gone (or broke the
  // protocol, which we treat the same way).
  while (recv(socket_.get(), &byte, 1, 0) < 0 && errno == EINTR) {
  }
  closed_.store(true, std::memory_order_release);
  for (uint32_t i = 0; i < segment_->call_count(); ++i) {
    shm::FutexWake(segment_->cell(i).state, INT_MAX);
  }
}

OutgoingMessage ShmClientConnection::NewMessage(size_t size_hint) {
  shm::DescriptorRing& ring = segment_->ring();
  auto allocator = std::make_unique<shm::SlotAllocator>(
      shared_from_this(), *segment_, options_.slot_wait, bytes_copied_, closed_, &ring);
  // Announce the request so that an idle server worker wakes (and spins) while we build it;
  // the allocator ends the announcement when the message is sent or dropped.
  ring.BeginBuilding(shm::SpinningCanHelp(server_cpu_.load(std::memory_order_relaxed)));
  return OutgoingMessage(std::move(allocator), size_hint);
}

void ShmClientConnection::ReleaseMessage(uint64_t slot_id) {
  segment_->ReleaseSlot(static_cast<uint32_t>(slot_id));
}

Result<uint32_t> ShmClientConnection::AcquireCell(Clock::time_point deadline) {
  shm::IndexStack& cells = segment_->cell_stack();
  for (;;) {
    const uint32_t index = cells.Pop();
    if (index != shm::kNoIndex) return index;
    if (!connected()) return Disconnected(endpoint_);
    const auto now = Clock::now();
    if (now >= deadline) {
      return Status::DeadlineExceeded("all " + std::to_string(cells.capacity()) +
                                      " call slots stayed busy until the deadline");
    }
    cells.WaitForPush(std::min<Clock::duration>(deadline - now, kWaitSlice));
  }
}

void ShmClientConnection::RecycleCell(uint32_t index) {
  segment_->cell(index).state.store(shm::kCellFree, std::memory_order_relaxed);
  segment_->cell_stack().Push(index);
}

Result<IncomingMessage> ShmClientConnection::Call(uint32_t method_id, MethodKind kind,
                                               OutgoingMessage request,
                                               const CallOptions& options) {
  if (!connected()) return Disconnected(endpoint_);
  auto* allocator = dynamic_cast<shm::SlotAllocator*>(request.allocator());
  if (allocator == nullptr || !allocator->BelongsTo(*segment_)) {
    return Status::InvalidArgument("the request was built for another channel");
  }
  if (!request.finished()) {
    return Status::InvalidArgument("the request was not finished (call Finish on its builder)");
  }
  if (Status usable = allocator->Usable(); !usable.ok()) return usable;

  const Clock::time_point deadline = DeadlineFrom(options.deadline);
  flatbuffers::FlatBufferBuilder& fbb = request.fbb();
  const uint32_t length = fbb.GetSize();
  // A request built while every slot was taken waits here for one, by the call's deadline.
  Result<uint8_t*> placed = allocator->Place(fbb.GetBufferPointer(), length, deadline);
  if (!placed.ok()) {
    if (!connected()) return Disconnected(endpoint_);
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded("no shared-memory slot for the request freed up before "
                                      "the deadline");
    }
    return placed.status();
  }
  const uint8_t* data = *placed;
  Result<uint32_t> cell_index = AcquireCell(deadline);
  if (!cell_index.ok()) return cell_index.status();

  size_t reserved = 0, start = 0;
  fbb.ReleaseRaw(reserved, start);  // the slot now belongs to the descriptor, not the builder
  const uint32_t slot = allocator->Detach();

  shm::Descriptor descriptor{};
  descriptor.cell = *cell_index;
  descriptor.method_id = method_id;
  descriptor.slot = slot;
  descriptor.offset = static_cast<uint32_t>(data - segment_->SlotBase(slot));
  descriptor.length = length;
  descriptor.kind = static_cast<uint8_t>(kind);
  descriptor.deadline_ns = MonotonicNanos(deadline);
  const int cpu = shm::CurrentCpu();
  descriptor.client_cpu = cpu >= 0 && cpu < 0xffff ? static_cast<uint16_t>(cpu) : 0xffff;

  segment_->cell(*cell_index).state.store(shm::kCellPending, std::memory_order_relaxed);
  // The ring is as deep as there are cells, so it is never full; but a server worker preempted
  // between taking a descriptor and releasing its ring cell holds up the next push for a while.
  const shm::DescriptorRing::PushResult pushed = segment_->ring().Push<Clock>(
      descriptor, deadline, [this] { return !connected(); });
  if (pushed != shm::DescriptorRing::PushResult::kPushed) {
    segment_->ReleaseSlot(slot);
    RecycleCell(*cell_index);
    if (pushed == shm::DescriptorRing::PushResult::kCorrupt) {
      return Status::DataLoss("the shared request ring of " + endpoint_ + " is corrupt");
    }
    if (!connected()) return Disconnected(endpoint_);
    return Status::DeadlineExceeded("the server at " + endpoint_ +
                                    " took no request before the deadline");
  }
  allocator->EndBuilding();
  if (kind == MethodKind::kOneway) return IncomingMessage();  // the server recycles the cell

  if (Status s = AwaitReply(*cell_index, deadline); !s.ok()) return s;
  Result<IncomingMessage> reply = TakeReply(*cell_index);
  RecycleCell(*cell_index);
  return reply;
}

Status ShmClientConnection::AwaitReply(uint32_t index, Clock::time_point deadline) {
  std::atomic<uint32_t>& state = segment_->cell(index).state;
  thread_local shm::AdaptiveSpinner spinner;
  if (spinner.Spin([&] { return state.load(std::memory_order_acquire) == shm::kCellDone; },
                   server_cpu_.load(std::memory_order_relaxed))) {
    return Status::Ok();
  }
  for (;;) {
    uint32_t seen = shm::kCellPending;
    if (!state.compare_exchange_strong(seen, shm::kCellWaiting, std::memory_order_acq_rel) &&
        seen == shm::kCellDone) {
      return Status::Ok();
    }
    if (!connected()) return Disconnected(endpoint_);
    const auto now = Clock::now();
    if (now >= deadline) {
      seen = shm::kCellWaiting;
      if (state.compare_exchange_strong(seen, shm::kCellAbandoned, std::memory_order_acq_rel) ||
          seen != shm::kCellDone) {
        // Abandoned (the server recycles the cell), or in a state only a broken server leaves
        // it in (the cell is lost to this connection): either way the caller is done waiting.
        return Status::DeadlineExceeded("no reply from " + endpoint_ + " before the deadline");
      }
      return Status::Ok();
    }
    shm::FutexWait(state, shm::kCellWaiting, std::min<Clock::duration>(deadline - now, kWaitSlice));
    if (state.load(std::memory_order_acquire) == shm::kCellDone) return Status::Ok();
  }
}

Result<IncomingMessage> ShmClientConnection::TakeReply(uint32_t index) {
  shm::AnnounceAcquire();
  // One private copy, each field read exactly once (volatile): the server could rewrite the
  // shared cell after we checked it.
  const volatile shm::CallCell& shared = segment_->cell(index);
  const uint32_t code = shared.status_code;
  const uint32_t slot = shared.slot;
  const uint32_t offset = shared.offset;
  const uint32_t length = shared.length;
  const uint32_t server_cpu = shared.server_cpu;
  server_cpu_.store(static_cast<int>(server_cpu), std::memory_order_relaxed);
  if (segment_->HeldHere(slot)) {  // one of our own slots: not the server's to hand us
    return Status::DataLoss("reply names a slot this client holds");
  }
  uint8_t* bytes = segment_->Locate(slot, offset, length);
  if (code == 0) {
    if (bytes == nullptr) {
      segment_->ReleaseSlot(slot);
      return Status::DataLoss("reply names memory outside its slot");
    }
    return IncomingMessage(bytes, length, shared_from_this(), slot);
  }
  std::string message =
      bytes != nullptr ? std::string(reinterpret_cast<char*>(bytes), length) : std::string();
  segment_->ReleaseSlot(slot);
  if (code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
    return Status::Unknown("status code " + std::to_string(code) + ": " + message);
  }
  return Status(static_cast<StatusCode>(code), std::move(message));
}

}  // namespace ferry::internal
