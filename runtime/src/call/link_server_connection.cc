// Serving one client over a FrameLink: handshake, workers taking turns to read, handlers,
// replies.
#include "call/link_server_connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "call/call_frame.h"
#include "os/deadline.h"
#include "call/pool_allocator.h"
#include "os/log.h"

namespace ferry::internal {
namespace {

// How long a handler may run before a standby worker takes over reading the connection. The
// alarm is armed once per grace period, not per call (arming a timer can cost a VM exit), so
// under a stream of fast calls the standby wakes at most once per grace period.
constexpr std::chrono::microseconds kHandlerGrace{1000};

// What a connection's pool keeps idle at most (the server's memory budget bounds the sum).
constexpr size_t kIdleBytes = 64 * 1024 * 1024;

// A call is over when the client cancelled it (a Cancel frame, or the connection closed) or
// its deadline passed: with every worker busy nobody reads the Cancel frame, and a handler
// must not outlive the caller's interest for that.
struct CancelProbe {
  const std::atomic<bool>* cancelled;
  Clock::time_point deadline;
};

bool ProbeCancelled(const void* arg) {
  const auto* probe = static_cast<const CancelProbe*>(arg);
  return probe->cancelled->load(std::memory_order_relaxed) ||
         (probe->deadline != Clock::time_point::max() && Clock::now() >= probe->deadline);
}

// A status the runtime produced before any handler ran: the client sent something this
// server cannot serve, which is worth one log line.
bool RejectedBeforeHandler(const Status& status) {
  return (status.code() == StatusCode::kUnimplemented &&
          status.message().rfind("no method with id", 0) == 0) ||
         (status.code() == StatusCode::kFailedPrecondition &&
          status.message().find("schemas differ") != std::string::npos) ||
         (status.code() == StatusCode::kInvalidArgument &&
          status.message().find("failed FlatBuffers verification") != std::string::npos);
}

}  // namespace

LinkServerConnection::LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env)
    : socket_(std::move(socket)),
      open_link_(std::move(open_link)),
      env_(std::move(env)) {}

LinkServerConnection::~LinkServerConnection() {
  Stop();
  Join();
}

uint64_t LinkServerConnection::bytes_copied() const {
  std::lock_guard lock(mutex_);
  return growth_copied_.load(std::memory_order_relaxed) + (link_ ? link_->bytes_copied() : 0);
}

bool LinkServerConnection::Start() {
  try {
    thread_ = std::thread([this] { Serve(); });
    return true;
  } catch (const std::system_error& e) {
    LogLine(std::string("cannot start a connection thread: ") + e.what());
    return false;
  }
}

void LinkServerConnection::Stop() {
  std::lock_guard lock(mutex_);
  if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);  // ends a handshake in progress
  CloseLocked();
}

void LinkServerConnection::Join() {
  if (thread_.joinable()) thread_.join();
}

void LinkServerConnection::Serve() {
  Result<std::unique_ptr<FrameLink>> link = open_link_(socket_.get(), env_);
  if (!link.ok()) {
    env_.log->Log("handshake failed: " + link.status().ToString());
  } else {
    MarkEstablished();
    uint32_t extra = std::max(1U, env_.options->workers_per_connection) - 1;
    {
      std::lock_guard lock(mutex_);
      link_ = std::move(*link);
      send_pool_ = link_->pool() ? link_->pool() : BufferPool::Create(kIdleBytes, env_.budget);
      if (stopping_) link_->Shutdown();
      if (extra > 0) {
        Result<StandbyAlarm> alarm = StandbyAlarm::Create();
        if (alarm.ok()) {
          alarm_.emplace(std::move(*alarm));
        } else {
          LogLine("serving a connection with one worker: " + alarm.status().ToString());
          extra = 0;
        }
      }
    }
    // This thread is one of the workers.
    try {
      for (uint32_t i = 1; i <= extra; ++i) {
        workers_.emplace_back([this, i] { WorkLoop(static_cast<int>(i)); });
      }
    } catch (const std::system_error& e) {
      LogLine(std::string("cannot start handler threads: ") + e.what());
    }
    WorkLoop(0);
    for (std::thread& worker : workers_) worker.join();
  }
  if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);
  finished_.store(true, std::memory_order_release);
  env_.on_finished();
}

void LinkServerConnection::CloseLocked() {
  stopping_ = true;
  if (link_) link_->Shutdown();  // none yet during the handshake
  // Running handlers are told here: with every worker in one, nobody would read a Cancel.
  for (auto& [id, request] : active_) request->cancelled.store(true, std::memory_order_relaxed);
  if (alarm_) alarm_->Nudge();
  idle_.notify_all();
}

void LinkServerConnection::WorkLoop(int me) {
  MarkHandlerThreadOf(*env_.methods);
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!stopping_ && role_ != Role::kFree) {
      if (standby_ || !alarm_) {
        idle_.wait(lock);
        continue;
      }
      standby_ = true;
      lock.unlock();
      const bool alarm = alarm_->Wait();
      lock.lock();
      standby_ = false;
      if (!alarm) continue;
      alarm_armed_ = false;
      if (role_ != Role::kHandling) continue;  // no handler runs: the next one re-arms
      const auto ran_for = Clock::now() - handler_started_;
      if (ran_for >= kHandlerGrace) {
        role_ = Role::kFree;  // taken from the slow handler's thread, which will find it gone
        idle_.notify_one();   // someone else stands by in our place
      } else {                // a newer handler: look again when its grace is over
        alarm_->Arm(std::chrono::ceil<std::chrono::microseconds>(kHandlerGrace - ran_for));
        alarm_armed_ = true;
      }
    }
    if (stopping_) return;
    role_ = Role::kReading;
    role_owner_ = me;
    // Holding the role: read, handle, and read on for as long as nobody takes it over.
    for (;;) {
      lock.unlock();
      auto request = std::make_shared<Request>();
      const bool got = ReadRequest(request);
      lock.lock();
      if (!got) {
        CloseLocked();
        return;
      }
      role_ = Role::kHandling;
      handler_started_ = Clock::now();
      if (alarm_ && !alarm_armed_) {
        alarm_->Arm(kHandlerGrace);
        alarm_armed_ = true;
      }
      lock.unlock();
      bool kept = false;
      // Once the handler has run, the role is ours again unless a standby took it over; the
      // reply is sent after that, so a slow peer cannot make a fast handler look slow.
      Handle(*request, [&] {
        std::lock_guard relock(mutex_);
        active_.erase(request->call_id);
        kept = role_ == Role::kHandling && role_owner_ == me;
        if (kept) role_ = Role::kReading;  // the alarm stays armed: see kHandlerGrace
      });
      lock.lock();
      if (!kept) break;  // taken over meanwhile: back to waiting for the role
    }
  }
}

bool LinkServerConnection::ReadRequest(const std::shared_ptr<Request>& request) {
  const auto give_up = [this](const std::string& why) {
    log_.Log("closing a " + std::string(link_->name()) + " connection: " + why);
    return false;
  };
  // Sockets only: there a deadline bounds just the wait for a frame to begin (a queue link
  // would cut a frame that straddles it).
  const std::chrono::milliseconds idle_timeout =
      link_->name() == "mq" ? std::chrono::milliseconds(0) : env_.options->idle_timeout;
  for (;;) {
    Clock::time_point deadline = Clock::time_point::max();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
      // Only a client with no call in flight is idle: one waiting for a slow handler is not.
      if (idle_timeout.count() > 0 && active_.empty()) deadline = DeadlineAfter(idle_timeout);
    }
    Result<PooledBuffer> frame = link_->Receive(deadline);
    if (!frame.ok()) {
      if (frame.status().code() == StatusCode::kUnavailable) return false;  // client left
      if (frame.status().code() == StatusCode::kDeadlineExceeded) {
        return give_up("idle for " + std::to_string(idle_timeout.count()) + " ms");
      }
      return give_up(frame.status().ToString());
    }
    Result<DecodedFrame> decoded = DecodeCallFrame({frame->data(), frame->size()});
    if (!decoded.ok()) return give_up(decoded.status().ToString());
    const CallFields& fields = decoded->fields;
    std::lock_guard lock(mutex_);
    if (fields.type == FrameType::kCancel) {
      if (auto found = active_.find(fields.call_id); found != active_.end()) {
        found->second->cancelled.store(true, std::memory_order_relaxed);
      }
      continue;
    }
    if (fields.type != FrameType::kRequest) return give_up("the client sent a reply");
    if (active_.count(fields.call_id) != 0) {
      return give_up("the client reused a call id in flight");
    }
    request->call_id = fields.call_id;
    request->method_id = fields.method_id;
    request->kind = fields.kind;
    request->payload_offset = decoded->payload_offset;
    request->payload_size = decoded->payload_size;
    request->deadline = fields.deadline_us == 0
                            ? Clock::time_point::max()
                            : DeadlineAfter(std::chrono::microseconds(fields.deadline_us));
    request->frame = std::move(*frame);
    active_.emplace(request->call_id, request);
    return true;
  }
}

void LinkServerConnection::Handle(Request& request, const std::function<void()>& ran) {
  const CancelProbe probe{&request.cancelled, request.deadline};
  const InboundCall call{request.method_id,
                         request.kind,
                         request.frame.data() + request.payload_offset,
                         request.payload_size,
                         request.deadline,
                         &ProbeCancelled,
                         &probe};
  OutgoingMessage reply(
      std::make_unique<PoolAllocator>(shared_from_this(), send_pool_, growth_copied_), 0);
  Status status;
  try {
    status = Dispatch(*env_.methods, call, reply);
  } catch (const std::exception& e) {  // std::bad_alloc around the handler
    status = Status::Internal(std::string("call failed inside the runtime: ") + e.what());
  }
  if (RejectedBeforeHandler(status)) LogLine("rejected a call: " + status.ToString());
  if (request.deadline != Clock::time_point::max() && Clock::now() >= request.deadline) {
    // The caller has given up (or is about to): whatever the handler made of it, the call's
    // outcome is its deadline, as it is on shared memory.
    status = Status::DeadlineExceeded("the deadline passed while the handler ran");
  }
  request.frame = PooledBuffer();  // the request's memory goes back before the reply is sent
  ran();
  if (request.kind == static_cast<uint8_t>(MethodKind::kOneway)) {
    if (!status.ok()) LogLine("oneway call failed: " + status.ToString());
    return;
  }
  SendReply(request.call_id, status, status.ok() ? &reply : nullptr);
}

void LinkServerConnection::SendReply(uint64_t call_id, const Status& status,
                                     OutgoingMessage* reply) {
  std::span<const uint8_t> payload;
  Status outcome = status;
  if (reply != nullptr) {
    payload = {reply->fbb().GetBufferPointer(), reply->fbb().GetSize()};
    if (payload.size() > env_.options->max_message_bytes) {
      outcome = Status::ResourceExhausted("reply of " + std::to_string(payload.size()) +
                                          " bytes is over max_message_bytes");
      payload = {};
    }
  }
  CallFields fields;
  fields.type = FrameType::kReply;
  fields.call_id = call_id;
  fields.status_code = static_cast<uint32_t>(outcome.code());
  // Bounded like the shared-memory transport's (a status travels in one small slot there).
  fields.status_message = outcome.message().substr(0, kMaxStatusMessageBytes);
  const EncodedHeader header(fields);
  const FrameLink::Part parts[] = {header.header(), header.padding(), payload};
  // Blocks while the client does not read; Stop() ends that. A failed send means the client
  // is gone (or the link broke): the reader sees it.
  (void)link_->Send(parts, Clock::time_point::max());
}

}  // namespace ferry::internal
