// Client calls of every kind over a MessageLink: opening, flow control, reading by whoever
// waits, deadlines, cancellation, and the completion thread of asynchronous calls.
#include "call/client_engine.h"

#include <algorithm>

#include "call/schema_check.h"
#include "os/deadline.h"
#include "os/log.h"

namespace ferry::internal {
namespace {

// The CPUs of this machine, at least 1.
size_t Cpus() {
  static const size_t cpus = std::max(1U, std::thread::hardware_concurrency());
  return cpus;
}

// A reader wakes at least this often, so that a call cancelled from another thread, or an
// asynchronous call's deadline, is noticed without a message arriving.
constexpr auto kReadSlice = std::chrono::milliseconds(50);

// At most this many messages are routed per turn of the reading role (ReadOnce).
constexpr size_t kBurstMessages = 64;

// Set by ~ClientEngine when it runs on the engine's own completion thread (the last reference
// dropped in a callback): the loop must then return without touching the engine again.
thread_local const void* engine_destroyed_here = nullptr;

// How long a call ended here waits for the server's Reply before its id is forgotten anyway
// (a server that never answers must not keep the channel's connection alive).
constexpr auto kZombieGrace = std::chrono::seconds(10);

bool ServerWrites(MethodKind kind) {
  return kind == MethodKind::kServerStreaming || kind == MethodKind::kBidiStreaming;
}
bool ClientWrites(MethodKind kind) {
  return kind == MethodKind::kClientStreaming || kind == MethodKind::kBidiStreaming;
}

}  // namespace

std::shared_ptr<ClientEngine> ClientEngine::Start(std::shared_ptr<MessageLink> link,
                                                  std::string endpoint,
                                                  const ConnectOptions& options) {
  return std::shared_ptr<ClientEngine>(
      new ClientEngine(std::move(link), std::move(endpoint), options));
}

ClientEngine::ClientEngine(std::shared_ptr<MessageLink> link, std::string endpoint,
                           const ConnectOptions& options)
    : link_(std::move(link)), endpoint_(std::move(endpoint)), options_(options) {}

ClientEngine::~ClientEngine() {
  link_->Shutdown();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  completion_wake_.notify_all();
  if (completion_thread_.joinable()) {
    // The last reference may go in a callback, on the completion thread itself.
    if (completion_thread_.get_id() == std::this_thread::get_id()) {
      engine_destroyed_here = this;
      completion_thread_.detach();
    } else {
      completion_thread_.join();
    }
  }
}

OutgoingMessage ClientEngine::Adopt(OutgoingMessage message) {
  if (message.allocator() == nullptr || !message.finished() || link_->Owns(message)) {
    return message;
  }
  const uint32_t size = message.fbb().GetSize();
  OutgoingMessage copy = link_->NewMessage(size);
  copy.fbb().PushFlatBuffer(message.fbb().GetBufferPointer(), size);
  copy.MarkFinished();
  adopted_bytes_.fetch_add(size, std::memory_order_relaxed);
  return copy;
}

Status ClientEngine::Admit(const CallOptions& options, Clock::time_point deadline,
                           std::unique_lock<std::mutex>& lock) {
  const uint32_t limit = std::max(1U, options_.max_calls_in_flight);
  while (open_calls_ >= limit) {
    if (closed_.load(std::memory_order_relaxed)) return closed_status_;
    if (!options.wait_for_capacity) {
      return Status::ResourceExhausted("the channel to " + endpoint_ + " has " +
                                       std::to_string(limit) +
                                       " calls in flight (ConnectOptions::max_calls_in_flight)");
    }
    // Calls end when their replies are read: the completion thread reads while we wait,
    // whether or not anyone waits for those replies.
    ++capacity_waiters_;
    EnsureCompletionThread();
    completion_wake_.notify_one();
    const std::cv_status waited = capacity_.wait_until(lock, deadline);
    --capacity_waiters_;
    if (waited == std::cv_status::timeout && open_calls_ >= limit) {
      return Status::DeadlineExceeded("the channel to " + endpoint_ + " stayed at " +
                                      std::to_string(limit) +
                                      " calls in flight until the deadline");
    }
  }
  if (closed_.load(std::memory_order_relaxed)) return closed_status_;
  return Status::Ok();
}

void ClientEngine::Register(ClientCall& call) {
  call.id = next_call_id_++;
  calls_.emplace(call.id, &call);
  ++open_calls_;
}

Status ClientEngine::SendFor(ClientCall& call, const CallHeader& header, OutgoingMessage* payload,
                             bool batch) {
  Status sent = batch ? link_->SendBatched(header, payload, call.deadline)
                      : link_->Send(header, payload, call.deadline);
  if (sent.ok()) return sent;
  switch (sent.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kResourceExhausted:
      return sent;
    case StatusCode::kDeadlineExceeded:
      return Status::DeadlineExceeded("the message to " + endpoint_ +
                                      " could not be sent before the deadline: " + sent.message());
    default:
      if (Clock::now() >= call.deadline) {
        return Status::DeadlineExceeded("the message to " + endpoint_ +
                                        " could not be sent before the deadline: " +
                                        sent.message());
      }
      return Status::Unavailable("cannot send to " + endpoint_ + ": " + sent.message());
  }
}

Status ClientEngine::CheckSchema(const MethodSignature& method, MethodKind kind,
                                 const CallOptions& options) {
  std::lock_guard checking(schema_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (const auto known = schema_verdicts_.find(method.id); known != schema_verdicts_.end()) {
      return known->second;
    }
  }
  // Room for the strings, their padding, the table and the builder's scratch: on shared
  // memory a message that outgrows its first buffer is copied (and counted in bytes_copied).
  OutgoingMessage request =
      NewMessage(2 * (method.full_name.size() + method.layout.size()) + 512);
  BuildSchemaCheck(method, kind, request);
  Status verdict = Call(kSchemaCheckMethodId, MethodKind::kUnary, std::move(request), options)
                       .status();
  switch (verdict.code()) {
    case StatusCode::kOk:
    case StatusCode::kUnimplemented:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kInvalidArgument: {
      std::lock_guard lock(mutex_);
      schema_verdicts_.emplace(method.id, verdict);
      return verdict;
    }
    default:
      return verdict;  // no verdict: the next call asks again
  }
}

Status ClientEngine::SchemaVerdictLocked(const MethodSignature* method, MethodKind kind,
                                         const CallOptions& options,
                                         std::unique_lock<std::mutex>& lock) {
  if (method == nullptr) return Status::Ok();
  if (const auto known = schema_verdicts_.find(method->id); known != schema_verdicts_.end()) {
    return known->second;
  }
  lock.unlock();
  Status verdict = CheckSchema(*method, kind, options);
  lock.lock();
  return verdict;
}

Result<IncomingMessage> ClientEngine::Call(uint32_t method_id, MethodKind kind,
                                           OutgoingMessage request, const CallOptions& options,
                                           const MethodSignature* signature) {
  // On the heap, shared: a reader may wake the caller after it has let the engine go (see
  // ReadOnce), when the caller may already be returning.
  const auto held = std::make_shared<ClientCall>();
  ClientCall& call = *held;
  call.kind = kind;
  call.deadline = DeadlineFrom(options.deadline);
  if (Clock::now() >= call.deadline) {
    return Status::DeadlineExceeded("the deadline passed before the call");
  }
  const bool oneway = kind == MethodKind::kOneway;
  {
    std::unique_lock lock(mutex_);
    if (closed_.load(std::memory_order_relaxed)) return closed_status_;
    if (Status verdict = SchemaVerdictLocked(signature, kind, options, lock); !verdict.ok()) {
      return verdict;
    }
    if (closed_.load(std::memory_order_relaxed)) return closed_status_;
    if (oneway) {
      call.id = next_call_id_++;
    } else {
      if (Status admitted = Admit(options, call.deadline, lock); !admitted.ok()) return admitted;
      Register(call);
    }
  }
  CallHeader header;
  header.type = FrameType::kRequest;
  header.call_id = call.id;
  header.method_id = method_id;
  header.kind = static_cast<uint8_t>(kind);
  header.deadline_us = DeadlineToWire(call.deadline);
  Status sent = SendFor(call, header, &request);
  std::unique_lock lock(mutex_);
  if (!sent.ok()) {
    if (!oneway) std::shared_ptr<ClientCall> none = EndLocked(call, sent, EndKind::kUnsent);
    return sent;
  }
  if (oneway) return IncomingMessage();
  const bool ended = Await(call.changed, [&] { return call.ended; }, call.deadline, lock);
  if (!ended) {
    return GiveUp(call,
                  Status::DeadlineExceeded("no reply from " + endpoint_ + " before the deadline"),
                  lock);
  }
  if (!call.status.ok()) return call.status;
  return std::move(call.reply);
}

std::shared_ptr<ClientCall> ClientEngine::Open(uint32_t method_id, MethodKind kind,
                                               OutgoingMessage* request,
                                               const CallOptions& options,
                                               const MethodSignature* signature) {
  auto call = std::make_shared<ClientCall>();
  call->kind = kind;
  call->deadline = DeadlineFrom(options.deadline);
  call->is_async = true;
  const auto fail = [&](Status why) {
    call->ended = true;
    call->status = std::move(why);
    return call;
  };
  if (Clock::now() >= call->deadline) {
    return fail(Status::DeadlineExceeded("the deadline passed before the call"));
  }
  bool batch;
  {
    std::unique_lock lock(mutex_);
    if (closed_.load(std::memory_order_relaxed)) return fail(closed_status_);
    if (Status verdict = SchemaVerdictLocked(signature, kind, options, lock); !verdict.ok()) {
      return fail(std::move(verdict));
    }
    if (closed_.load(std::memory_order_relaxed)) return fail(closed_status_);
    if (Status admitted = Admit(options, call->deadline, lock); !admitted.ok()) {
      return fail(admitted);
    }
    Register(*call);
    call->engine = shared_from_this();
    call->self = call;
    ++async_calls_;
    AccountLocked(*call);
    EnsureCompletionThread();
    // While an asynchronous call is open somebody reads (the completion thread, or a caller
    // waiting), and flushes the batch before it waits: a burst of asynchronous calls goes out
    // in one system call, as soon as that reader has taken what it already read in.
    batch = kind == MethodKind::kUnary && completion_thread_.joinable();
  }
  CallHeader header;
  header.type = FrameType::kRequest;
  header.call_id = call->id;
  header.method_id = method_id;
  header.kind = static_cast<uint8_t>(kind);
  header.deadline_us = DeadlineToWire(call->deadline);
  if (ServerWrites(kind)) {
    header.window_messages = std::max(1U, options_.stream_window.messages);
    header.window_bytes = options_.stream_window.bytes;
  }
  Status sent = SendFor(*call, header, request, batch);
  if (!sent.ok()) {
    std::unique_lock lock(mutex_);
    std::shared_ptr<ClientCall> self = EndLocked(*call, sent, EndKind::kUnsent);
    lock.unlock();
  } else {
    completion_wake_.notify_one();  // someone must read for it
  }
  return call;
}

template <class Done>
bool ClientEngine::Await(std::condition_variable& cv, Done done, Clock::time_point deadline,
                         std::unique_lock<std::mutex>& lock) {
  waiting_.push_back(&cv);
  bool result = false;
  for (;;) {
    if (done()) {
      result = true;
      break;
    }
    if (Clock::now() >= deadline) break;
    if (closed_.load(std::memory_order_relaxed)) {
      result = done();
      break;
    }
    if (!reading_ && CrowdedLocked()) {
      EnsureCompletionThread();
      if (completion_thread_.joinable()) completion_wake_.notify_one();  // it reads for us
    }
    if (reading_ || (CrowdedLocked() && completion_thread_.joinable())) {
      // Whoever reads wakes us when our call moves (the slice only bounds a lost wake-up).
      cv.wait_until(lock, std::min(deadline, Clock::now() + kReadSlice));
      continue;
    }
    ReadOnce(deadline, /*spin=*/true, lock);
  }
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &cv));
  // We may leave with nobody reading.
  if (!reading_) PassReadingRoleLocked();
  return result;
}

bool ClientEngine::CrowdedLocked() const { return waiting_.size() > 2 * Cpus(); }

bool ClientEngine::CompletionReadsLocked() const {
  return owed_replies_ > 0 || capacity_waiters_ > 0;
}

void ClientEngine::PassReadingRoleLocked() {
  if (CrowdedLocked() && completion_thread_.joinable()) {
    completion_wake_.notify_one();
  } else if (!waiting_.empty()) {
    waiting_.front()->notify_all();
  } else if (CompletionReadsLocked()) {
    completion_wake_.notify_one();
  }
}

void ClientEngine::ReadOnce(Clock::time_point deadline, bool spin,
                            std::unique_lock<std::mutex>& lock) {
  reading_ = true;
  lock.unlock();
  link_->AllowSpinning(spin);
  Result<InboundMessage> inbound = link_->Receive(std::min(deadline, Clock::now() + kReadSlice));
  // What has arrived with it is taken too and routed under the same lock: with many callers
  // the reader takes the engine's mutex once per burst of replies, not once per reply.
  std::vector<Result<InboundMessage>>& burst = burst_;  // ours while reading_ is set
  if (inbound.ok()) {
    while (burst.size() < kBurstMessages && link_->InboundReady()) {
      burst.push_back(link_->Receive(Clock::now()));
      if (!burst.back().ok()) break;
    }
  }
  lock.lock();
  reading_ = false;
  deferring_wakes_ = true;
  const auto take = [&](Result<InboundMessage>& message) {
    if (message.ok()) {
      if (!Route(std::move(*message))) {
        link_->Shutdown();
        FailAllLocked(Status::Unavailable("the server at " + endpoint_ + " broke the protocol"));
        return false;
      }
    } else if (message.status().code() != StatusCode::kDeadlineExceeded) {
      link_->Shutdown();
      // The link's own word, when it names the server already ("the server at shm://x went
      // away"); else the server named, the link's word after it.
      const std::string why = message.status().message();
      FailAllLocked(Status::Unavailable(
          why.find(endpoint_) != std::string::npos
              ? why
              : "the server at " + endpoint_ + " went away (" + why + ")"));
      return false;
    }
    return true;
  };
  if (take(inbound)) {
    for (Result<InboundMessage>& message : burst) {
      if (!take(message)) break;
    }
  }
  burst.clear();
  deferring_wakes_ = false;
  // Only the calls the messages moved are woken (Route): a caller whose call did not move
  // sleeps on, instead of waking for every message read on its behalf. Synchronous callers
  // are woken once the mutex is free: woken under it, each would wake only to wait for it.
  if (!woken_.empty()) {
    std::vector<std::shared_ptr<ClientCall>> woken;
    woken.swap(woken_);
    lock.unlock();
    for (const std::shared_ptr<ClientCall>& call : woken) call->changed.notify_all();
    woken.clear();  // a synchronous call holds no engine: letting it go here is harmless
    lock.lock();
  }
}

void ClientEngine::NotifyLocked(ClientCall& call) {
  if (deferring_wakes_ && !call.is_async) {
    woken_.push_back(call.shared_from_this());
  } else {
    call.changed.notify_all();
  }
}

bool ClientEngine::Route(InboundMessage message) {
  const CallHeader& header = message.header;
  const auto found = calls_.find(header.call_id);
  if (found == calls_.end()) return true;  // a call that has ended here: dropped
  ClientCall& call = *found->second;
  if (call.zombie) {  // ended here; only the server's Reply is awaited
    if (header.type == FrameType::kReply) ForgetZombieLocked(call);
    return true;
  }
  switch (header.type) {
    case FrameType::kReply: {
      Status status = StatusFromWire(header.status_code, header.status_message);
      if (status.ok() && !message.payload_status.ok()) status = message.payload_status;
      if (status.ok()) call.reply = std::move(message.payload);
      // Messages that came before the Reply are still the caller's to read.
      std::shared_ptr<ClientCall> self = EndLocked(call, std::move(status), EndKind::kByServer);
      // A heap call's last reference may be the engine's: it goes after the lock (the caller
      // drops `self` at the end of ReadOnce's scope, with the lock held, so keep it alive).
      if (self) completions_.push_back([self] {});
      return true;
    }
    case FrameType::kMessage: {
      if (!ServerWrites(call.kind)) return false;
      if (!message.payload_status.ok()) {
        std::shared_ptr<ClientCall> self = EndLocked(call, message.payload_status, EndKind::kHere);
        if (self) completions_.push_back([self] {});
        completions_.push_back([this, id = call.id] { SendCancel(id); });
        return true;
      }
      const uint64_t size = message.payload.size();
      const uint32_t held = static_cast<uint32_t>(call.inbound.size()) + call.read_unacked_messages;
      const uint64_t held_bytes = call.inbound_bytes + call.read_unacked_bytes;
      const uint32_t window = std::max(1U, options_.stream_window.messages);
      if (held >= window || (held > 0 && held_bytes + size > options_.stream_window.bytes)) {
        LogLine("the server at " + endpoint_ + " wrote past its stream window");
        return false;
      }
      call.inbound_bytes += size;
      call.inbound.push_back(std::move(message.payload));
      NotifyLocked(call);
      return true;
    }
    case FrameType::kWindow: {
      if (!ClientWrites(call.kind)) return false;
      call.window_known = true;
      call.window_messages = std::max(1U, header.window_messages);
      call.window_bytes = header.window_bytes;
      call.unacked_messages -= std::min(call.unacked_messages, header.acked_messages);
      call.unacked_bytes -= std::min(call.unacked_bytes, header.acked_bytes);
      NotifyLocked(call);
      return true;
    }
    default:
      return false;  // Request, Cancel, HalfClose travel the other way
  }
}

std::shared_ptr<ClientCall> ClientEngine::EndLocked(ClientCall& call, Status status, EndKind kind) {
  if (call.ended) return nullptr;
  call.ended = true;
  call.status = std::move(status);
  if (kind != EndKind::kByServer) {
    call.inbound.clear();  // their memory goes back now
    call.inbound_bytes = 0;
  }
  const bool registered = calls_.count(call.id) != 0;
  if (registered) {
    --open_calls_;
    capacity_.notify_one();
  }
  std::shared_ptr<ClientCall> self;
  if (registered && call.is_async) UnaccountLocked(call);
  if (registered && kind == EndKind::kHere && call.is_async) {
    // The server may still be sending for it: the id stays known (and the completion thread
    // reading) until the server's Reply, so those messages are dropped as they come instead
    // of filling the transport (a queue link's capacity is smaller than a stream window).
    call.zombie = true;
    call.deadline = Clock::now() + kZombieGrace;
    AccountLocked(call);
  } else {
    calls_.erase(call.id);
    if (call.is_async) --async_calls_;
    self = std::exchange(call.self, nullptr);
  }
  NotifyLocked(call);
  if (call.then) completions_.push_back(std::exchange(call.then, nullptr));
  if (!completions_.empty()) completion_wake_.notify_one();
  return self;
}

namespace {

// Whether the completion thread must read for `call` although nobody may wait for it: an
// asynchronous unary call (its caller may never call Get), a call with a Then callback, or a
// zombie (what the server still sends for it is dropped as it comes). A stream's own reader
// reads for it; a thread in between two of its reads is not a reason for another to read.
bool OwesReply(const ClientCall& call) {
  return call.zombie || call.kind == MethodKind::kUnary || call.then != nullptr;
}

}  // namespace

void ClientEngine::UnaccountLocked(const ClientCall& call) {
  if (OwesReply(call)) --owed_replies_;
}

void ClientEngine::AccountLocked(const ClientCall& call) {
  if (OwesReply(call)) ++owed_replies_;
  if (call.deadline < next_expiry_) {
    next_expiry_ = call.deadline;
    completion_wake_.notify_one();  // its read may be bounded by a later time
  }
}

void ClientEngine::ForgetZombieLocked(ClientCall& call) {
  UnaccountLocked(call);
  calls_.erase(call.id);
  --async_calls_;
  if (call.self) completions_.push_back([self = std::exchange(call.self, nullptr)] {});
  completion_wake_.notify_one();
}

void ClientEngine::FailAllLocked(const Status& why) {
  closed_status_ = why;
  closed_.store(true, std::memory_order_release);
  while (!calls_.empty()) {
    ClientCall& call = *calls_.begin()->second;
    if (call.zombie) {
      ForgetZombieLocked(call);
      continue;
    }
    std::shared_ptr<ClientCall> self = EndLocked(call, why, EndKind::kByServer);
    if (self) completions_.push_back([self] {});
  }
  capacity_.notify_all();
  completion_wake_.notify_all();
  for (std::condition_variable* waiter : waiting_) waiter->notify_all();
}

void ClientEngine::SendWindow(ClientCall& call, uint32_t messages, uint64_t bytes) {
  CallHeader header;
  header.type = FrameType::kWindow;
  header.call_id = call.id;
  header.window_messages = std::max(1U, options_.stream_window.messages);
  header.window_bytes = options_.stream_window.bytes;
  header.acked_messages = messages;
  header.acked_bytes = bytes;
  (void)link_->Send(header, nullptr, call.deadline);  // a failure ends the link: readers see it
}

Status ClientEngine::GiveUp(ClientCall& call, Status why, std::unique_lock<std::mutex>& lock) {
  std::shared_ptr<ClientCall> self = EndLocked(call, std::move(why), EndKind::kHere);
  Status status = call.status;
  lock.unlock();
  SendCancel(call.id);
  return status;
}

void ClientEngine::SendCancel(uint64_t id) {
  CallHeader header;
  header.type = FrameType::kCancel;
  header.call_id = id;
  // Best effort and never long: the server also ends the call at its deadline on its own.
  (void)link_->Send(header, nullptr, Clock::now() + std::chrono::milliseconds(100));
}

Status ClientEngine::Write(ClientCall& call, OutgoingMessage message) {
  std::unique_lock lock(mutex_);
  if (!ClientWrites(call.kind)) {
    return Status::FailedPrecondition("Write on a call the client does not stream to");
  }
  if (call.writes_done && !call.ended) {
    return Status::FailedPrecondition("Write after WritesDone");
  }
  const uint64_t size = message.fbb().GetSize();
  const bool room = Await(
      call.changed,
      [&] {
        return call.ended ||
               (call.window_known && call.unacked_messages < call.window_messages &&
                (call.unacked_messages == 0 || call.unacked_bytes + size <= call.window_bytes));
      },
      call.deadline, lock);
  if (call.ended) return call.status.ok() ? Status::FailedPrecondition("the call has ended") : call.status;
  if (!room) {
    return GiveUp(call,
                  Status::DeadlineExceeded("the server at " + endpoint_ +
                                           " did not read the stream before the deadline"),
                  lock);
  }
  ++call.unacked_messages;
  call.unacked_bytes += size;
  lock.unlock();
  CallHeader header;
  header.type = FrameType::kMessage;
  header.call_id = call.id;
  Status sent = SendFor(call, header, &message);
  if (!sent.ok()) {
    lock.lock();
    if (sent.code() == StatusCode::kInvalidArgument || sent.code() == StatusCode::kResourceExhausted) {
      // Nothing went out: the call goes on.
      --call.unacked_messages;
      call.unacked_bytes -= size;
      return sent;
    }
    std::shared_ptr<ClientCall> self = EndLocked(call, sent, EndKind::kHere);
    lock.unlock();
    SendCancel(call.id);
  }
  return sent;
}

Status ClientEngine::WritesDone(ClientCall& call) {
  {
    std::lock_guard lock(mutex_);
    if (!ClientWrites(call.kind) || call.writes_done) return Status::Ok();
    call.writes_done = true;
    if (call.ended) return call.status;
  }
  CallHeader header;
  header.type = FrameType::kHalfClose;
  header.call_id = call.id;
  return SendFor(call, header, nullptr);
}

std::optional<IncomingMessage> ClientEngine::Read(ClientCall& call) {
  std::unique_lock lock(mutex_);
  if (!ServerWrites(call.kind)) return std::nullopt;
  const bool got =
      Await(call.changed, [&] { return call.ended || !call.inbound.empty(); }, call.deadline, lock);
  if (!got) {
    (void)GiveUp(call,
                 Status::DeadlineExceeded("the stream from " + endpoint_ +
                                          " did not end before the deadline"),
                 lock);
    return std::nullopt;
  }
  if (call.inbound.empty()) return std::nullopt;  // ended
  IncomingMessage message = std::move(call.inbound.front());
  call.inbound.pop_front();
  call.inbound_bytes -= message.size();
  ++call.read_unacked_messages;
  call.read_unacked_bytes += message.size();
  const uint32_t window = std::max(1U, options_.stream_window.messages);
  if (call.read_unacked_messages * 2 >= window ||
      call.read_unacked_bytes * 2 >= options_.stream_window.bytes) {
    const uint32_t messages = std::exchange(call.read_unacked_messages, 0);
    const uint64_t bytes = std::exchange(call.read_unacked_bytes, 0);
    lock.unlock();
    SendWindow(call, messages, bytes);
  }
  return message;
}

Result<IncomingMessage> ClientEngine::Finish(ClientCall& call) {
  std::unique_lock lock(mutex_);
  if (!Await(call.changed, [&] { return call.ended; }, call.deadline, lock)) {
    return GiveUp(call,
                  Status::DeadlineExceeded("no reply from " + endpoint_ + " before the deadline"),
                  lock);
  }
  if (!call.status.ok()) return call.status;
  if (std::exchange(call.reply_taken, true)) {
    return Status::FailedPrecondition("the reply was already taken");
  }
  return std::move(call.reply);
}

bool ClientEngine::Wait(ClientCall& call, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return Await(call.changed, [&] { return call.ended; }, deadline, lock);
}

void ClientEngine::Then(ClientCall& call, std::function<void()> on_end) {
  std::unique_lock lock(mutex_);
  if (!call.ended) {
    const bool counted = call.is_async && calls_.count(call.id) != 0;
    if (counted) UnaccountLocked(call);
    call.then = std::move(on_end);
    if (counted) {
      AccountLocked(call);
      completion_wake_.notify_one();  // it reads for the call now
    }
    return;
  }
  lock.unlock();
  on_end();
}

void ClientEngine::End(ClientCall& call, Status why) {
  std::unique_lock lock(mutex_);
  const bool was_open = !call.ended;
  std::shared_ptr<ClientCall> self = EndLocked(call, std::move(why), EndKind::kHere);
  lock.unlock();
  if (was_open) SendCancel(call.id);
}

void ClientEngine::EnsureCompletionThread() {
  if (completion_thread_.joinable()) return;
  try {
    completion_thread_ = std::thread([this] { CompletionLoop(); });
  } catch (const std::system_error& e) {
    // Without it asynchronous calls still complete when waited for (Get, Wait).
    LogLine(std::string("cannot start a channel's completion thread: ") + e.what());
  }
}

void ClientEngine::CompletionLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!completions_.empty()) {
      std::function<void()> run = std::move(completions_.front());
      completions_.pop_front();
      lock.unlock();
      link_->Flush();  // a callback may take long: nothing batched waits for it
      run();
      run = nullptr;  // a call's last reference goes here, outside the lock
      if (engine_destroyed_here == this) return;  // and with it the engine's: `this` is gone
      lock.lock();
      continue;
    }
    if (async_calls_ == 0 && !CrowdedLocked()) {
      if (!reading_) PassReadingRoleLocked();  // a caller waiting for a synchronous call
      completion_wake_.wait(lock);
      continue;
    }
    // Expire asynchronous calls nobody waits for (a scan only once the earliest is due).
    const auto now = Clock::now();
    std::vector<std::shared_ptr<ClientCall>> expired;
    std::vector<uint64_t> cancel;
    std::vector<ClientCall*> forgotten;
    if (now >= next_expiry_) {
      next_expiry_ = Clock::time_point::max();
      for (auto& [id, call] : calls_) {
        if (!call->is_async) continue;
        if (call->deadline > now) {
          next_expiry_ = std::min(next_expiry_, call->deadline);
        } else if (call->zombie) {
          forgotten.push_back(call);
        } else {
          cancel.push_back(id);
        }
      }
    }
    for (ClientCall* call : forgotten) ForgetZombieLocked(*call);
    for (uint64_t id : cancel) {
      expired.push_back(EndLocked(
          *calls_.at(id),
          Status::DeadlineExceeded("no reply from " + endpoint_ + " before the deadline"),
          EndKind::kHere));
    }
    if (!cancel.empty()) {
      lock.unlock();
      for (uint64_t id : cancel) SendCancel(id);
      expired.clear();
      if (engine_destroyed_here == this) return;
      lock.lock();
      continue;
    }
    // Replies owed to asynchronous unary calls are read here whoever waits (a caller that
    // took the role first keeps it and passes it back when it leaves), so that they never
    // pile up unread in the transport, and a caller waiting meanwhile is woken only when its
    // own call moves. Streams are read by their own readers (a reader in between two Reads
    // is soon back), unless a Then callback waits for one or a caller waits for capacity.
    if (reading_ || closed_.load(std::memory_order_relaxed) ||
        (!CompletionReadsLocked() && !CrowdedLocked())) {
      if (!reading_) PassReadingRoleLocked();
      completion_wake_.wait_until(lock, std::min(next_expiry_, Clock::now() + kReadSlice));
      continue;
    }
    // Without spinning: the caller's own threads may need this CPU.
    ReadOnce(next_expiry_, /*spin=*/false, lock);
  }
}

// ---- ClientCallHandle: the public face of a ClientCall ----

namespace {

Status NoCall() { return Status::FailedPrecondition("no call (a moved-from or default handle)"); }

}  // namespace

OutgoingMessage ClientCallHandle::NewMessage(size_t size_hint) {
  if (call_ && call_->engine) return call_->engine->NewMessage(size_hint);
  return OutgoingMessage();  // sending it fails
}

Status ClientCallHandle::Write(OutgoingMessage message) {
  if (!call_) return NoCall();
  if (!call_->engine) return call_->status;
  return call_->engine->Write(*call_, std::move(message));
}

Status ClientCallHandle::WritesDone() {
  if (!call_) return NoCall();
  if (!call_->engine) return call_->status;
  return call_->engine->WritesDone(*call_);
}

std::optional<IncomingMessage> ClientCallHandle::Read() {
  if (!call_ || !call_->engine) return std::nullopt;
  return call_->engine->Read(*call_);
}

Result<IncomingMessage> ClientCallHandle::Finish() {
  if (!call_) return NoCall();
  if (!call_->engine) return call_->status;
  return call_->engine->Finish(*call_);
}

bool ClientCallHandle::Wait(Clock::time_point deadline) {
  if (!call_ || !call_->engine) return true;
  return call_->engine->Wait(*call_, deadline);
}

void ClientCallHandle::Then(std::function<void()> on_end) {
  if (!call_ || !call_->engine) {
    on_end();
    return;
  }
  call_->engine->Then(*call_, std::move(on_end));
}

void ClientCallHandle::Cancel() {
  if (call_ && call_->engine) call_->engine->End(*call_, Status::Cancelled("cancelled by the client"));
}

void ClientCallHandle::Fail(Status why) {
  if (call_ && call_->engine) call_->engine->End(*call_, std::move(why));
}

}  // namespace ferry::internal
