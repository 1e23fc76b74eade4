// An in-memory MessageLink pair for testing the call engine without processes or sockets.
// Payloads are copied into the peer's queue (this is a fake: it counts nothing), and every
// received payload's release is counted, so tests can see that memory goes back.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "call/message_link.h"
#include "os/unix_socket.h"

namespace ferry::internal::testing {

class FakeLink final : public MessageLink, public std::enable_shared_from_this<FakeLink> {
 public:
  using Clock = std::chrono::steady_clock;

  struct Frame {
    CallHeader header;
    std::vector<uint8_t> payload;
    bool has_payload = false;
  };

  // Frames one side sends and the other receives.
  struct Pipe {
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<Frame> frames;
    bool closed = false;
    // A pollable receiving end (MakePollable): its doorbell, and whether it is parked (the
    // next frame rings) or muted (frames ring nobody).
    int doorbell = -1;
    bool parked = false;
    bool muted = false;
  };

  static std::pair<std::shared_ptr<FakeLink>, std::shared_ptr<FakeLink>> Pair() {
    auto a_to_b = std::make_shared<Pipe>();
    auto b_to_a = std::make_shared<Pipe>();
    auto released = std::make_shared<std::atomic<int>>(0);
    return {std::shared_ptr<FakeLink>(new FakeLink(a_to_b, b_to_a, released)),
            std::shared_ptr<FakeLink>(new FakeLink(b_to_a, a_to_b, released))};
  }

  std::string_view name() const override { return "fake"; }

  OutgoingMessage NewMessage(size_t size_hint) override {
    return OutgoingMessage(std::make_unique<HeapAllocator>(this), size_hint);
  }

  bool Owns(const OutgoingMessage& message) const override {
    auto* allocator = dynamic_cast<HeapAllocator*>(message.allocator());
    return allocator != nullptr && allocator->link == this;
  }

  Status Send(const CallHeader& header, OutgoingMessage* payload, Clock::time_point) override {
    Frame frame;
    frame.header = header;
    if (payload != nullptr) {
      if (!Owns(*payload)) return Status::InvalidArgument("the message was built for another link");
      if (!payload->finished()) return Status::InvalidArgument("the message was not finished");
      frame.payload.assign(payload->fbb().GetBufferPointer(),
                           payload->fbb().GetBufferPointer() + payload->fbb().GetSize());
      frame.has_payload = true;
      *payload = OutgoingMessage();
    }
    std::lock_guard lock(out_->mutex);
    if (out_->closed) return Status::Unavailable("fake link closed");
    (holding_ ? held_ : out_->frames).push_back(std::move(frame));
    out_->arrived.notify_all();
    if (!holding_) RingLocked(*out_);
    return Status::Ok();
  }

  // Makes this end pollable, as a server's shared-memory link is (MessageLink::doorbells).
  // Before the link is used.
  void MakePollable() {
    std::lock_guard lock(in_->mutex);
    in_->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    owns_doorbell_ = true;
  }
  ~FakeLink() override {
    if (!owns_doorbell_) return;
    std::lock_guard lock(in_->mutex);  // the peer rings no closed descriptor
    close(std::exchange(in_->doorbell, -1));
  }
  Doorbells doorbells() const override {
    std::lock_guard lock(in_->mutex);
    return Doorbells{in_->doorbell, -1};
  }
  bool Park() override {
    std::lock_guard lock(in_->mutex);
    if (!in_->frames.empty() || in_->closed) return false;
    in_->parked = true;
    return true;
  }
  void Unpark() override {
    std::lock_guard lock(in_->mutex);
    in_->parked = false;
  }
  // While muted, frames sent to this parked end do not ring it: only the server's own looks
  // (a stream writer's, its timer's) find them. Unmuting rings for what came meanwhile.
  void MuteDoorbell(bool muted) {
    std::lock_guard lock(in_->mutex);
    in_->muted = muted;
    if (!muted && !in_->frames.empty()) RingLocked(*in_);
  }


  // Frames sent from now on wait, in order, until ReleaseSends() delivers them all at once.
  void HoldSends() {
    std::lock_guard lock(out_->mutex);
    holding_ = true;
  }
  void ReleaseSends() {
    std::lock_guard lock(out_->mutex);
    holding_ = false;
    for (Frame& frame : held_) out_->frames.push_back(std::move(frame));
    held_.clear();
    out_->arrived.notify_all();
    RingLocked(*out_);
  }
  // Whether `count` frames are held, waiting up to `timeout`.
  bool WaitHeld(size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(out_->mutex);
    return out_->arrived.wait_for(lock, timeout, [&] { return held_.size() >= count; });
  }

  bool InboundReady() const override {
    std::lock_guard lock(in_->mutex);
    return !in_->frames.empty();
  }

  Result<InboundMessage> Receive(Clock::time_point deadline) override {
    std::unique_lock lock(in_->mutex);
    if (!in_->arrived.wait_until(lock, deadline,
                                 [&] { return in_->closed || !in_->frames.empty(); })) {
      return Status::DeadlineExceeded("nothing arrived");
    }
    if (in_->frames.empty()) return Status::Unavailable("fake link closed");
    Frame frame = std::move(in_->frames.front());
    in_->frames.pop_front();
    InboundMessage inbound;
    inbound.header = std::move(frame.header);
    if (frame.has_payload) {
      auto held = std::make_shared<Held>(std::move(frame.payload), released_);
      inbound.payload = IncomingMessage(held->bytes.data(), held->bytes.size(), held, 0);
    }
    return inbound;
  }

  void Shutdown() override {
    for (Pipe* pipe : {in_.get(), out_.get()}) {
      std::lock_guard lock(pipe->mutex);
      pipe->closed = true;
      pipe->arrived.notify_all();
      if (pipe->doorbell >= 0) {  // a parked reader sees the end
        pipe->parked = true;
        pipe->muted = false;
        RingLocked(*pipe);
      }
    }
  }
  bool connected() const override {
    std::lock_guard lock(out_->mutex);
    return !out_->closed;
  }
  uint64_t bytes_copied() const override { return 0; }
  uint64_t max_message_bytes() const override { return 1 << 20; }

  void AllowSpinning(bool allowed) override {
    std::lock_guard lock(spin_mutex_);
    spinning_allowed_ = allowed;
    spin_changed_.notify_all();
  }
  // Whether the engine's last word (AllowSpinning) was `allowed`, waiting up to 10 s.
  bool SpinningBecomes(bool allowed) {
    std::unique_lock lock(spin_mutex_);
    return spin_changed_.wait_for(lock, std::chrono::seconds(10),
                                  [&] { return spinning_allowed_ == allowed; });
  }

  // Whether `count` frames sent by this side wait unreceived, waiting up to `timeout`.
  bool WaitQueuedOut(size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(out_->mutex);
    return out_->arrived.wait_for(lock, timeout, [&] { return out_->frames.size() >= count; });
  }
  // Frames sent by this side and not yet received by the other.
  size_t queued_out() {
    std::lock_guard lock(out_->mutex);
    return out_->frames.size();
  }
  // Received payloads released so far, on both sides.
  int released() const { return released_->load(); }

 private:
  // With `pipe`'s mutex held: wakes its parked, pollable reader.
  static void RingLocked(Pipe& pipe) {
    if (!pipe.parked || pipe.doorbell < 0 || pipe.muted) return;
    pipe.parked = false;
    RingEventFd(pipe.doorbell);
  }

  bool owns_doorbell_ = false;
  bool holding_ = false;    // guarded by out_->mutex
  std::deque<Frame> held_;  // likewise
  struct HeapAllocator final : MessageAllocator {
    explicit HeapAllocator(FakeLink* owner) : link(owner) {}
    uint8_t* allocate(size_t size) override { return new uint8_t[size]; }
    void deallocate(uint8_t* p, size_t) override { delete[] p; }
    Status Usable() const override { return Status::Ok(); }
    FakeLink* link;
  };
  struct Held final : MessageOwner {
    Held(std::vector<uint8_t> b, std::shared_ptr<std::atomic<int>> r)
        : bytes(std::move(b)), released(std::move(r)) {}
    void ReleaseMessage(uint64_t) override { released->fetch_add(1); }
    std::vector<uint8_t> bytes;
    std::shared_ptr<std::atomic<int>> released;
  };

  FakeLink(std::shared_ptr<Pipe> out, std::shared_ptr<Pipe> in,
           std::shared_ptr<std::atomic<int>> released)
      : out_(std::move(out)), in_(std::move(in)), released_(std::move(released)) {}

  std::shared_ptr<Pipe> out_;
  std::shared_ptr<Pipe> in_;
  std::mutex spin_mutex_;
  std::condition_variable spin_changed_;
  std::optional<bool> spinning_allowed_;
  std::shared_ptr<std::atomic<int>> released_;
};

}  // namespace ferry::internal::testing
