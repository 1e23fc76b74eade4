// Serving one client over shared memory: pop descriptors, verify, run handlers, publish.
#include "shm/shm_server_connection.h"

#include <sys/socket.h>

#include <cstring>

#include "os/deadline.h"
#include "call/handshake.h"
#include "os/log.h"
#include "shm/futex.h"
#include "shm/peer_sync.h"
#include "shm/slot_allocator.h"

namespace ferry::internal {
namespace {

using namespace std::chrono_literals;

// How long a worker stays awake for a request that is being built.
constexpr auto kBuildingSpinLimit = 20ms;

struct CancelProbe {
  const shm::CallCell* cell;
  const std::atomic<bool>* closed;
};

bool ProbeCancelled(const void* arg) {
  const auto* probe = static_cast<const CancelProbe*>(arg);
  return probe->closed->load(std::memory_order_relaxed) ||
         probe->cell->state.load(std::memory_order_relaxed) == shm::kCellAbandoned;
}

}  // namespace

ShmServerConnection::ShmServerConnection(Fd socket, ConnectionEnv env)
    : socket_(std::move(socket)),
      env_(std::move(env)),
      methods_(*env_.methods),
      options_(*env_.options) {}

ShmServerConnection::~ShmServerConnection() {
  Stop();
  Join();
}

std::shared_ptr<ServerConnection> NewShmConnection(Fd client, ConnectionEnv env) {
  return std::make_shared<ShmServerConnection>(std::move(client), std::move(env));
}

bool ShmServerConnection::Start() {
  try {
    thread_ = std::thread([this] { Serve(); });
    return true;
  } catch (const std::system_error& e) {
    LogLine(std::string("cannot start a connection thread: ") + e.what());
    return false;  // the socket closes with this object: the client sees UNAVAILABLE
  }
}

void ShmServerConnection::Stop() { shutdown(socket_.get(), SHUT_RDWR); }

void ShmServerConnection::Join() {
  if (thread_.joinable()) thread_.join();
}

void ShmServerConnection::Serve() {
  if (Status s = Handshake(); !s.ok()) {
    env_.log->Log("handshake failed: " + s.ToString());
  } else {
    MarkEstablished();
    try {
      for (uint32_t i = 0; i < std::max(1U, options_.workers_per_connection); ++i) {
        workers_.emplace_back([this] { WorkLoop(); });
      }
    } catch (const std::system_error& e) {
      LogLine(std::string("cannot start handler threads: ") + e.what());
      if (workers_.empty()) shutdown(socket_.get(), SHUT_RDWR);  // nobody would serve it
    }
    char byte;
    // The client sends nothing after the handshake: any return means it left (or broke the
    // protocol; either way the connection ends).
    ssize_t n;
    while ((n = recv(socket_.get(), &byte, 1, 0)) < 0 && errno == EINTR) {
    }
    if (n > 0) LogLine("client wrote on the liveness socket; disconnecting it");
    closed_.store(true, std::memory_order_release);
    segment_->ring().Nudge();
    for (std::thread& worker : workers_) worker.join();
  }
  shutdown(socket_.get(), SHUT_RDWR);
  segment_.reset();  // unmaps
  finished_.store(true, std::memory_order_release);
  env_.on_finished();
}

Status ShmServerConnection::Handshake() {
  const Deadline deadline = DeadlineAfter(options_.handshake_timeout);
  if (Status s = RefuseOtherUsers(socket_.get(), "shared memory is offered to"); !s.ok()) {
    return s;
  }
  if (Result<HelloInfo> hello = ReceiveHello(socket_.get(), deadline); !hello.ok()) {
    return hello.status();
  }
  Result<std::shared_ptr<shm::Segment>> segment = shm::Segment::Create(options_.shm);
  if (!segment.ok()) {
    (void)SendRefusal(socket_.get(), segment.status());
    return segment.status();
  }
  segment_ = std::move(*segment);
  Status s = SendWelcome(socket_.get(), segment_->size(), shm::kLayoutVersion,
                         segment_->descriptor());
  if (s.ok()) s = ReceiveMapped(socket_.get(), deadline);
  segment_->CloseDescriptor();  // both sides have it mapped (or the handshake failed)
  if (!s.ok()) segment_.reset();
  return s;
}

void ShmServerConnection::HandleGuarded(const shm::Descriptor& descriptor) {
  try {
    Handle(descriptor);
  } catch (const std::exception& e) {
    peer_log_.Log(std::string("call failed inside the runtime: ") + e.what());
    if (descriptor.cell >= segment_->call_count()) return;
    if (descriptor.kind == static_cast<uint8_t>(MethodKind::kOneway)) {
      RecycleCell(descriptor.cell);
    } else {
      Publish(descriptor.cell, static_cast<uint32_t>(StatusCode::kInternal), shm::kNoIndex, 0,
              0);
    }
  }
}

void ShmServerConnection::WorkLoop() {
  MarkHandlerThreadOf(methods_);
  shm::DescriptorRing& ring = segment_->ring();
  shm::AdaptiveSpinner spinner;
  shm::Descriptor descriptor{};
  descriptor.client_cpu = 0xffff;
  auto pop = [&] { return ring.Pop(descriptor); };
  // Set when a request being built outlasted kBuildingSpinLimit: no more spinning for it
  // until the ring's signal moves (a push, or a new request announced).
  bool building_spin_spent = false;
  while (!closed_.load(std::memory_order_acquire)) {
    // The last request says where the client ran: no use spinning on its very CPU.
    const int client_cpu = descriptor.client_cpu == 0xffff ? -1 : descriptor.client_cpu;
    if (spinner.Spin(pop, client_cpu)) {
      building_spin_spent = false;
      HandleGuarded(descriptor);
      continue;
    }
    if (!building_spin_spent) {
      const BuildingWait waited = AwaitRequestBeingBuilt(pop, client_cpu);
      if (waited == BuildingWait::kPopped) {
        HandleGuarded(descriptor);
        continue;
      }
      building_spin_spent = waited == BuildingWait::kGaveUp;
    }
    const uint32_t signal = ring.Signal();
    if (closed_.load(std::memory_order_acquire)) break;
    if (pop()) {
      building_spin_spent = false;
      HandleGuarded(descriptor);
      continue;
    }
    // Closing nudges the ring, so the timeout is only a safety net.
    ring.WaitForPush(signal, 500ms);
    if (ring.Signal() != signal) building_spin_spent = false;
  }
}

template <class Pop>
ShmServerConnection::BuildingWait ShmServerConnection::AwaitRequestBeingBuilt(Pop& pop,
                                                                        int client_cpu) {
  // A client is writing a request (a large one takes milliseconds): stay awake for it, so the
  // call does not pay a futex wake-up at the end. Bounded, for builders that are never sent.
  shm::DescriptorRing& ring = segment_->ring();
  if (!ring.SomeoneBuilding() || !shm::SpinningCanHelp(client_cpu)) {
    return BuildingWait::kNobodyBuilding;
  }
  const auto give_up = Clock::now() + kBuildingSpinLimit;
  for (uint32_t i = 1; ring.SomeoneBuilding() && !closed_.load(std::memory_order_relaxed); ++i) {
    if (pop()) return BuildingWait::kPopped;
    __builtin_ia32_pause();
    if (i % 1024 == 0 && Clock::now() > give_up) return BuildingWait::kGaveUp;
  }
  return pop() ? BuildingWait::kPopped : BuildingWait::kNobodyBuilding;
}

void ShmServerConnection::Handle(const shm::Descriptor& d) {
  if (d.cell >= segment_->call_count()) {
    peer_log_.Log("request names call cell " + std::to_string(d.cell) + " of " +
                  std::to_string(segment_->call_count()) + "; dropped");
    segment_->ReleaseSlot(d.slot);
    return;
  }
  if (segment_->HeldHere(d.slot)) {
    // A slot this server is building in (or otherwise holds): reading it as a request, and
    // then freeing it, would let the client corrupt our own message. Keep it; fail the call.
    peer_log_.Log("request names a slot the server holds; failed with DATA_LOSS");
    if (d.kind == static_cast<uint8_t>(MethodKind::kOneway)) {
      RecycleCell(d.cell);
    } else {
      Complete(d.cell, Status::DataLoss("request names a slot the server holds"), nullptr,
               Clock::time_point::max());
    }
    return;
  }
  const uint8_t* request = segment_->Locate(d.slot, d.offset, d.length);
  if (request == nullptr) {
    peer_log_.Log("request descriptor names memory outside its slot; failed with DATA_LOSS");
    segment_->ReleaseSlot(d.slot);
    if (d.kind == static_cast<uint8_t>(MethodKind::kOneway)) {
      RecycleCell(d.cell);  // nobody waits on a oneway cell
    } else {
      Complete(d.cell, Status::DataLoss("request descriptor names memory outside its slot"),
               nullptr, Clock::time_point::max());
    }
    return;
  }
  CancelProbe probe{&segment_->cell(d.cell), &closed_};
  const InboundCall call{
      d.method_id,
      d.kind,
      request,
      d.length,
      d.deadline_ns == 0 ? Clock::time_point::max()
                         : Clock::time_point(std::chrono::nanoseconds(d.deadline_ns)),
      &ProbeCancelled,
      &probe};
  OutgoingMessage reply(std::make_unique<shm::SlotAllocator>(shared_from_this(), *segment_,
                                                             options_.slot_wait, bytes_copied_,
                                                             closed_),
                        0);
  const Status status = Dispatch(methods_, call, reply);
  segment_->ReleaseSlot(d.slot);
  if (d.kind == static_cast<uint8_t>(MethodKind::kOneway)) {
    if (!status.ok()) peer_log_.Log("oneway call failed: " + status.ToString());
    RecycleCell(d.cell);
    return;
  }
  Complete(d.cell, status, &reply, call.deadline);
}

void ShmServerConnection::Complete(uint32_t cell, const Status& status, OutgoingMessage* reply,
                                   Clock::time_point deadline) {
  if (status.ok()) {
    auto* allocator = static_cast<shm::SlotAllocator*>(reply->allocator());
    if (Status usable = allocator->Usable(); !usable.ok()) {
      Complete(cell, usable, nullptr, deadline);
      return;
    }
    flatbuffers::FlatBufferBuilder& fbb = reply->fbb();
    const uint32_t length = fbb.GetSize();
    // A reply built while every slot was taken waits for one here (the request's slot is free
    // by now), by the call's deadline.
    Result<uint8_t*> placed = allocator->Place(fbb.GetBufferPointer(), length, deadline);
    if (!placed.ok()) {
      Complete(cell, Clock::now() >= deadline
                         ? Status::DeadlineExceeded("no shared-memory slot for the reply freed "
                                                    "up before the deadline")
                         : placed.status(),
               nullptr, deadline);
      return;
    }
    const uint8_t* data = *placed;
    size_t reserved = 0, start = 0;
    fbb.ReleaseRaw(reserved, start);
    const uint32_t slot = allocator->Detach();
    Publish(cell, 0, slot, static_cast<uint32_t>(data - segment_->SlotBase(slot)), length);
    return;
  }
  // The status message travels in the smallest slot that is free right now (truncated to it);
  // without one, the code alone still reaches the client.
  const std::string& text = status.message();
  uint32_t slot = shm::kNoIndex;
  uint32_t length = 0;
  if (!text.empty()) {
    Result<uint32_t> acquired = segment_->AcquireSlot(1, Clock::now() + 10ms, closed_);
    if (acquired.ok()) {
      slot = *acquired;
      length = static_cast<uint32_t>(std::min(text.size(), segment_->SlotCapacity(slot)));
      std::memcpy(segment_->SlotBase(slot), text.data(), length);
      segment_->HandOver(slot);
    }
  }
  Publish(cell, static_cast<uint32_t>(status.code()), slot, 0, length);
}

void ShmServerConnection::Publish(uint32_t cell_index, uint32_t code, uint32_t slot,
                               uint32_t offset, uint32_t length) {
  shm::CallCell& cell = segment_->cell(cell_index);
  cell.status_code = code;
  cell.slot = slot;
  cell.offset = offset;
  cell.length = length;
  const int cpu = shm::CurrentCpu();
  cell.server_cpu = cpu >= 0 ? static_cast<uint32_t>(cpu) : 0xffffffffU;
  shm::AnnounceRelease();
  const uint32_t before = cell.state.exchange(shm::kCellDone, std::memory_order_acq_rel);
  if (before == shm::kCellWaiting) {
    shm::FutexWake(cell.state, 1);
  } else if (before == shm::kCellAbandoned) {
    segment_->ReleaseSlot(slot);
    RecycleCell(cell_index);
  }
}

void ShmServerConnection::RecycleCell(uint32_t cell_index) {
  segment_->cell(cell_index).state.store(shm::kCellFree, std::memory_order_relaxed);
  segment_->cell_stack().Push(cell_index);
}

}  // namespace ferry::internal
