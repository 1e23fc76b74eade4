// Serving one client over a MessageLink: handshake, workers taking turns to read, handlers,
// streams, replies.
#include "call/link_server_connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "call/dispatch.h"
#include "call/schema_check.h"
#include "os/deadline.h"
#include "os/log.h"

namespace ferry::internal {
namespace {

// How long a handler may run before a standby worker takes over reading the connection. The
// alarm is armed once per grace period, not per call (arming a timer can cost a VM exit), so
// under a stream of fast calls the standby wakes at most once per grace period.
constexpr std::chrono::microseconds kHandlerGrace{1000};
// How long a link a stream writer left unparked may go without a look before a worker parks
// it (see ReadOnStreamThread): what a call that arrives while the writer pauses may wait.
constexpr std::chrono::microseconds kWriterReadGrace{2000};

// The connection whose stream handler runs on this thread (RunStream), if any.
thread_local const void* stream_thread_of = nullptr;

}  // namespace

LinkServerConnection::LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env)
    : socket_(std::move(socket)),
      open_link_(std::move(open_link)),
      env_(std::move(env)),
      peer_(std::make_shared<const Peer>(PeerOf(socket_.get()))),
      loop_(env_.loop) {}

LinkServerConnection::~LinkServerConnection() {
  Stop();
  Join();
}

uint64_t LinkServerConnection::bytes_copied() const {
  std::lock_guard lock(mutex_);
  return link_ ? link_->bytes_copied() : 0;
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
  bool finish;
  {
    std::lock_guard lock(mutex_);
    if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);  // ends a handshake in progress
    CloseLocked();
    finish = ReadyToFinishLocked();
  }
  RunCloseCallbacks();
  if (finish) Finish();
}

void LinkServerConnection::Join() {
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mutex_);
  finished_cv_.wait(lock, [&] { return finished_.load(std::memory_order_acquire); });
}

void LinkServerConnection::Serve() {
  Result<std::shared_ptr<MessageLink>> link = open_link_(socket_.get(), env_);
  if (!link.ok()) {
    env_.log->Log("handshake failed: " + link.status().ToString());
  } else {
    MarkEstablished();
    const MessageLink::Doorbells doorbells = (*link)->doorbells();
    if (loop_ && doorbells.inbound >= 0) {
      // The worker pool serves it from now on; this thread's work is done.
      bool finish;
      {
        std::lock_guard lock(mutex_);
        link_ = std::move(*link);
        polled_ = true;
        for (auto [fd, tag] : {std::pair{doorbells.inbound, kInbound},
                               std::pair{doorbells.liveness, kLiveness}}) {
          if (fd < 0) continue;
          Result<uint64_t> token = loop_->Watch(fd, tag, weak_from_this());
          if (!token.ok()) {
            LogLine("cannot serve a connection: " + token.status().ToString());
            CloseLocked();
            break;
          }
          watches_.emplace_back(fd, *token);
        }
        if (stopping_) link_->Shutdown();
        finish = ReadyToFinishLocked();
      }
      RunCloseCallbacks();
      if (finish) {
        Finish();
      } else {
        (void)loop_->Post(weak_from_this(), kInbound);  // what came before the watch
      }
      return;
    }
    uint32_t extra = std::max(1U, env_.options->workers_per_connection) - 1;
    {
      std::lock_guard lock(mutex_);
      link_ = std::move(*link);
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
        workers_.emplace_back([this, i] { WorkLoop(i); });
      }
    } catch (const std::system_error& e) {
      LogLine(std::string("cannot start handler threads: ") + e.what());
    }
    WorkLoop(0);
    for (std::thread& worker : workers_) worker.join();
    // Streaming handlers were told (cancelled) when the connection closed.
    std::list<StreamThread> streams;
    {
      std::lock_guard lock(mutex_);
      streams.swap(streams_);
    }
    for (StreamThread& stream : streams) stream.thread.join();
  }
  ReportFinished();
}

void LinkServerConnection::ReportFinished() {
  if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);
  {
    std::unique_lock lock(mutex_);
    // The link is down: a deferred reply being sent fails at once.
    deferred_sent_.wait(lock, [&] { return deferred_sending_ == 0; });
    finished_.store(true, std::memory_order_release);
  }
  finished_cv_.notify_all();
  env_.on_finished();
}

void LinkServerConnection::OnReady(uint32_t tag) {
  if (tag == kFinish) {
    Finish();
    return;
  }
  if (tag == kCloseCallbacks) {
    RunCloseCallbacks();
    return;
  }
  uint64_t me;
  {
    std::lock_guard lock(mutex_);
    if (finishing_ || !link_) return;
    if (tag == kTakeover) {
      takeover_armed_ = false;
      if (role_ != Role::kHandling || stopping_) return;  // the handler is done: it reads on
      const Clock::time_point due = handler_started_ + kHandlerGrace;
      if (Clock::now() < due) {  // a newer handler: look again when its grace is over
        takeover_armed_ = true;
        loop_->PostAt(weak_from_this(), kTakeover, due);
        return;
      }
    }
    if (tag == kWriterCheck) {
      writer_check_armed_ = false;
      if (!writer_unparked_) return;  // parked since: pushes ring again
      const Clock::time_point due = writer_read_at_ + kWriterReadGrace;
      if (Clock::now() < due) {  // the writer looked meanwhile: look again when it is due
        writer_check_armed_ = true;
        loop_->PostAt(weak_from_this(), kWriterCheck, due);
        return;
      }
      // The writer has paused: a turn reads what came, then parks the link.
    }
    if (tag == kLiveness) link_->CheckPeer();  // a gone peer ends the link: the reader sees it
    if (role_ == Role::kReading) {
      rang_ = true;  // the holder looks again before it lets the role go
      return;
    }
    // Free, or held by a handler: the link is parked, so this is new; its handler's worker
    // finds the role taken when it is done.
    role_ = Role::kReading;
    me = ++turns_;
    role_owner_ = me;
    rang_ = false;
    ++inside_;
  }
  ServeTurn(me);
}

void LinkServerConnection::ServeTurn(uint64_t me) {
  std::unique_lock lock(mutex_, std::defer_lock);
  bool kept = true;  // the role; false once another worker took it over during a handler
  for (;;) {
    bool would_wait = false;
    std::shared_ptr<ServerCall> call = ReadCall(&would_wait);
    if (!call) {
      // Busy polling (ServerOptions::busy_poll) goes on for as long as another worker is free
      // to serve the other connections.
      if (would_wait && env_.options->busy_poll && loop_->HasIdleWorker()) continue;
      if (!would_wait) {
        lock.lock();
        CloseLocked();
        break;
      }
      // A stream's writer that looked lately keeps the link unparked (ReadOnStreamThread):
      // parked here, its client's next window update would ring for a worker again.
      lock.lock();
      const bool writer_reads =
          writer_unparked_ && Clock::now() < writer_read_at_ + kWriterReadGrace;
      lock.unlock();
      if (writer_reads) {
        link_->Unpark();
      } else if (!link_->Park()) {
        continue;  // something came meanwhile
      }
      lock.lock();
      if (!writer_reads) writer_unparked_ = false;
      if (rang_) {  // a ring while we held the role: what it announced is read now
        rang_ = false;
        lock.unlock();
        continue;
      }
      break;
    }
    // The link stays parked while the handler runs: what the client sends meanwhile rings,
    // and another worker takes the role over. With messages already queued (pipelined calls)
    // it is not: the timer lets a worker take over if the handler outlasts its grace.
    const bool parked = link_->Park();
    if (!parked) link_->Unpark();
    lock.lock();
    writer_unparked_ = false;  // parked, or a takeover armed below
    role_ = Role::kHandling;
    handler_started_ = Clock::now();
    const bool arm = !parked && !takeover_armed_;
    if (arm) takeover_armed_ = true;
    lock.unlock();
    if (arm) loop_->PostAt(weak_from_this(), kTakeover, handler_started_ + kHandlerGrace);
    loop_->EnterHandler();
    Handle(call, [&] {
      std::lock_guard relock(mutex_);
      kept = role_ == Role::kHandling && role_owner_ == me;
      if (kept) role_ = Role::kReading;
      return kept;
    });
    loop_->LeaveHandler();
    if (!kept) {  // taken over: this worker goes back to the pool
      lock.lock();
      break;
    }
    link_->Unpark();
  }
  if (kept) role_ = Role::kFree;
  --inside_;
  const bool finish = ReadyToFinishLocked();
  lock.unlock();
  RunCloseCallbacks();
  if (finish) Finish();
}

void LinkServerConnection::ReadOnStreamThread(bool then_wait) {
  {
    std::lock_guard lock(mutex_);
    if (!polled_ || stopping_ || finishing_ || role_ != Role::kFree || handoff_.has_value()) {
      return;
    }
    role_ = Role::kReading;
    role_owner_ = ++turns_;
    rang_ = false;
    ++inside_;
  }
  std::unique_lock lock(mutex_, std::defer_lock);
  bool would_wait = false;
  bool handed_off = false;
  for (;;) {
    would_wait = false;
    (void)ReadCall(&would_wait, &handed_off);  // never opens a call here
    if (handed_off || !would_wait) break;
    // Nothing more. About to wait for room: park, so that the next window update wakes a
    // worker. Otherwise unparked: the client's pushes ring nobody while we write on and look
    // again (a push that raced with this may still ring once).
    if (then_wait) {
      if (!link_->Park()) continue;  // something came meanwhile
    } else {
      link_->Unpark();
    }
    lock.lock();
    if (!rang_) break;
    rang_ = false;  // a ring while we held the role: what it announced is read now
    lock.unlock();
  }
  if (!lock.owns_lock()) lock.lock();
  bool post = false;
  bool arm = false;
  Clock::time_point check_at;
  if (handed_off) {
    // A new call or a Cancel: a worker takes it (a handler runs there, not inside a stream's
    // Write or Read); that turn reads on and parks the link.
    post = true;
  } else if (!would_wait) {
    CloseLocked();  // the client left or broke the protocol
  } else if (then_wait) {
    writer_unparked_ = false;
  } else {
    writer_unparked_ = true;
    writer_read_at_ = Clock::now();
    check_at = writer_read_at_ + kWriterReadGrace;
    arm = !writer_check_armed_;
    writer_check_armed_ = true;
  }
  role_ = Role::kFree;
  --inside_;
  // Not finished here: this writer's own stream is still running (RunStream finishes it).
  lock.unlock();
  RunCloseCallbacks();
  if (post) (void)loop_->Post(weak_from_this(), kInbound);
  if (arm) loop_->PostAt(weak_from_this(), kWriterCheck, check_at);
}

bool LinkServerConnection::ReadyToFinishLocked() {
  if (!polled_ || finishing_ || !stopping_ || inside_ > 0 || RunningStreamsLocked() > 0) {
    return false;
  }
  finishing_ = true;
  return true;
}

void LinkServerConnection::Finish() {
  std::list<StreamThread> streams;
  std::vector<std::pair<int, uint64_t>> watches;
  {
    std::lock_guard lock(mutex_);
    streams.swap(streams_);
    watches.swap(watches_);
  }
  for (auto [fd, token] : watches) loop_->Unwatch(fd, token);
  for (StreamThread& stream : streams) stream.thread.join();  // each past its last touch
  ReportFinished();
}

void LinkServerConnection::CloseLocked() {
  stopping_ = true;
  drained_.notify_all();
  if (link_) link_->Shutdown();  // none yet during the handshake
  // Running handlers are told here: with every worker in one, nobody would read a Cancel.
  // A handler may be waiting for nothing but its OnCancel callback (a stream that writes on
  // events): the callbacks run once the mutex is free, else the handler never returns.
  for (auto& [id, call] : active_) {
    call->CancelLocked();
    closed_calls_.push_back(call);
  }
  if (alarm_) alarm_->Nudge();
  idle_.notify_all();
}

void LinkServerConnection::RunCloseCallbacks() {
  std::vector<std::shared_ptr<ServerCall>> calls;
  {
    std::lock_guard lock(mutex_);
    if (closed_calls_.empty()) return;
    if (stream_thread_of == this && polled_) {
      (void)loop_->Post(weak_from_this(), kCloseCallbacks);
      return;
    }
    calls.swap(closed_calls_);
  }
  for (const std::shared_ptr<ServerCall>& call : calls) call->RunCancelCallbacks();
}

void LinkServerConnection::WorkLoop(uint64_t me) {
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
      std::shared_ptr<ServerCall> call = ReadCall();
      lock.lock();
      if (!call) {
        CloseLocked();
        lock.unlock();
        RunCloseCallbacks();
        return;
      }
      role_ = Role::kHandling;
      handler_started_ = Clock::now();
      // Calls further apart than this leave an alarm armed for one of them to go off idle,
      // waking the standby for nothing (at 1 kHz, most of the server's CPU per call): for
      // them, disarming after a handler that ended in time costs less.
      const bool sparse = handler_started_ - last_handler_end_ > kHandlerGrace / 2;
      bool armed_here = false;
      if (alarm_ && !alarm_armed_) {
        alarm_->Arm(kHandlerGrace);
        alarm_armed_ = true;
        armed_here = true;
      }
      const bool alone = !standby_;
      lock.unlock();
      bool kept = false;
      // Once the handler has run, the role is ours again unless a standby took it over; the
      // reply is sent after that, so a slow peer cannot make a fast handler look slow.
      // Replies held back for the calls before this one go out first when no standby could
      // take over (and send them) should this handler be slow.
      if (alone) link_->Flush();
      Handle(call, [&] {
        std::lock_guard relock(mutex_);
        kept = role_ == Role::kHandling && role_owner_ == me;
        if (!kept) return false;
        role_ = Role::kReading;
        last_handler_end_ = Clock::now();
        if (sparse && armed_here && alarm_armed_) {
          alarm_->Disarm();
          alarm_armed_ = false;
        }  // otherwise the alarm stays armed: see kHandlerGrace
        return true;
      });
      lock.lock();
      if (!kept) break;  // taken over meanwhile: back to waiting for the role
    }
  }
}

std::shared_ptr<ServerCall> LinkServerConnection::ReadCall(bool* would_wait, bool* handed_off) {
  const auto give_up = [this](const std::string& why) {
    const std::string message = "closing a " + std::string(link_->name()) + " connection: " + why;
    log_.Log(AboutPeer(message));
    return nullptr;
  };
  // Sockets only: there a deadline bounds just the wait for a frame to begin (a queue link
  // would cut a frame that straddles it).
  const std::chrono::milliseconds idle_timeout =
      link_->name() == "mq" ? std::chrono::milliseconds(0) : env_.options->idle_timeout;
  for (;;) {
    Clock::time_point deadline = Clock::time_point::max();
    std::optional<InboundMessage> handed;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return nullptr;
      handed = std::exchange(handoff_, std::nullopt);  // what a stream's thread read
      // Spinning for the next message pays when it is a caller's next request; while a call
      // is in progress (a stream's writer, a slow or deferred handler) our own threads need
      // the CPU more, and what arrives then (windows, stream messages) is not that urgent.
      // A pool worker spins only while another one is free for the other connections.
      link_->AllowSpinning(calls_running_ == 0 && (!polled_ || loop_->HasIdleWorker()));
      // Only a client with no call in flight is idle: one waiting for a slow handler is not.
      if (idle_timeout.count() > 0 && active_.empty()) deadline = DeadlineAfter(idle_timeout);
    }
    Result<InboundMessage> inbound = handed            ? Result<InboundMessage>(std::move(*handed))
                                     : would_wait != nullptr ? link_->Poll()
                                                             : link_->Receive(deadline);
    if (!inbound.ok()) {
      if (inbound.status().code() == StatusCode::kUnavailable) return nullptr;  // client left
      if (would_wait != nullptr && inbound.status().code() == StatusCode::kDeadlineExceeded) {
        *would_wait = true;
        return nullptr;
      }
      if (inbound.status().code() == StatusCode::kDeadlineExceeded) {
        return give_up("idle for " + std::to_string(idle_timeout.count()) + " ms");
      }
      return give_up(inbound.status().ToString());
    }
    const FrameType type = inbound->header.type;
    if (handed_off != nullptr && type != FrameType::kWindow && type != FrameType::kMessage &&
        type != FrameType::kHalfClose) {
      // A stream's thread applies only what cannot run user code or block: a new call, a
      // Cancel (its OnCancel callbacks) and anything unexpected go to a worker.
      std::lock_guard lock(mutex_);
      handoff_ = std::move(*inbound);
      *handed_off = true;
      return nullptr;
    }
    if (type == FrameType::kRequest) {
      if (std::shared_ptr<ServerCall> call = Open(*inbound)) return call;
      continue;
    }
    std::string why;
    std::shared_ptr<ServerCall> cancelled;
    bool fine;
    {
      std::lock_guard lock(mutex_);
      fine = Route(*inbound, why, cancelled);
    }
    if (cancelled) cancelled->RunCancelCallbacks();
    if (!fine) return give_up(why);
  }
}

bool LinkServerConnection::Route(InboundMessage& message, std::string& why,
                                 std::shared_ptr<ServerCall>& cancelled) {
  const CallHeader& header = message.header;
  if (header.type == FrameType::kReply) {
    why = "the client sent a reply";
    return false;
  }
  const auto found = active_.find(header.call_id);
  if (found == active_.end()) return true;  // a call that has ended here: dropped
  ServerCall& call = *found->second;
  switch (header.type) {
    case FrameType::kCancel:
      call.CancelLocked();
      cancelled = found->second;
      return true;
    case FrameType::kMessage:
      if (!call.client_writes()) {
        why = "the client wrote to a call that takes no stream";
        return false;
      }
      if (!message.payload_status.ok()) {
        why = message.payload_status.ToString();
        return false;
      }
      if (!call.Deliver(std::move(message.payload))) {
        why = "the client wrote past its stream window";
        return false;
      }
      return true;
    case FrameType::kHalfClose:
      call.HalfClose();
      return true;
    case FrameType::kWindow:
      call.Acknowledge(header);
      return true;
    default:
      why = "the client sent a frame of type " + std::to_string(static_cast<int>(header.type));
      return false;
  }
}

std::shared_ptr<ServerCall> LinkServerConnection::Open(InboundMessage& message) {
  const CallHeader& header = message.header;
  const bool oneway = header.kind == static_cast<uint8_t>(MethodKind::kOneway);
  auto call = std::make_shared<ServerCall>(mutex_, link_, env_.options->stream_window, header,
                                           std::move(message.payload));
  if (polled_) call->SetStreamThreadReads(this);
  call->SetPeer(peer_);
  bool reused = false;
  {
    std::lock_guard lock(mutex_);
    reused = active_.count(header.call_id) != 0;
    if (reused) {
      log_.Log("closing a " + std::string(link_->name()) +
               " connection: the client reused a call id in flight");
      CloseLocked();
    }
  }
  if (reused) {
    RunCloseCallbacks();
    return nullptr;
  }
  Status refusal;
  bool client_error = false;
  if (!message.payload_status.ok()) {
    refusal = message.payload_status;
    client_error = true;
  } else if (header.method_id == kSchemaCheckMethodId &&
             header.kind == static_cast<uint8_t>(MethodKind::kUnary)) {
    // Judged here, in the order frames are read: before any call the client sends after it.
    Status verdict =
        JudgeSchemaCheck(*env_.methods, call->request().data(), call->request().size());
    if (!verdict.ok()) {
      const std::string message = "schema check failed: " + verdict.message();
      log_.Log(AboutPeer(message, {}, verdict.code()));
    }
    call->DropRequest();
    SendReply(*call, std::move(verdict), nullptr);
    return nullptr;
  } else {
    const bool has_request = call->request().size() > 0;
    Resolution verdict = Resolve(*env_.methods, header.method_id, header.kind,
                                 has_request ? call->request().data() : nullptr,
                                 call->request().size(), call->Deadline());
    if (verdict.method != nullptr && verdict.method->verify_request == nullptr) {
      call->DropRequest();  // client and bidi streams open without one
    }
    call->SetMethod(verdict.method);
    refusal = std::move(verdict.refusal);
    client_error = verdict.client_error;
  }
  if (!refusal.ok()) {
    if (client_error) {
      const std::string message = "rejected a call: " + refusal.message();
      log_.Log(AboutPeer(message, call->method(), refusal.code()));
    }
    call->DropRequest();
    if (!oneway) SendReply(*call, std::move(refusal), nullptr);
    return nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return nullptr;
    if (draining_) {
      refusal = Status::Unavailable("the server is shutting down");
    } else if (header.kind == static_cast<uint8_t>(MethodKind::kUnary) || oneway) {
      if (!oneway) active_.emplace(call->id(), call);
      ++calls_running_;
      return call;
    } else if (RunningStreamsLocked() >= std::max(1U, env_.options->max_streams_per_connection)) {
      refusal = Status::ResourceExhausted(
          std::to_string(RunningStreamsLocked()) +
          " streams are open on this connection (ServerOptions::max_streams_per_connection)");
    } else {
      active_.emplace(call->id(), call);
      ++calls_running_;
    }
  }
  if (!refusal.ok()) {
    call->DropRequest();
    if (!oneway) SendReply(*call, std::move(refusal), nullptr);
    return nullptr;
  }
  StartStream(std::move(call));
  return nullptr;
}

size_t LinkServerConnection::RunningStreamsLocked() const {
  size_t running = 0;
  for (const StreamThread& stream : streams_) running += stream.done ? 0 : 1;
  return running;
}

void LinkServerConnection::StartStream(std::shared_ptr<ServerCall> call) {
  std::list<StreamThread> finished;
  std::unique_lock lock(mutex_);
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->done) finished.splice(finished.end(), streams_, it);
    it = next;
  }
  try {
    StreamThread& stream = streams_.emplace_back();
    stream.thread = std::thread([this, call, &stream] { RunStream(call, stream); });
    lock.unlock();
  } catch (const std::system_error& e) {
    streams_.pop_back();
    active_.erase(call->id());
    lock.unlock();
    SendReply(*call,
              Status::ResourceExhausted(std::string("cannot start a stream's thread: ") + e.what()),
              nullptr);
    CallEnded();
  }
  for (StreamThread& stream : finished) stream.thread.join();
}

// A unary or client-streaming handler's way to keep its reply (Reply::Defer): the reply then
// goes out through a sender that holds the connection and the call.
class LinkServerConnection::Deferral final : public ReplyDeferral {
 public:
  Deferral(LinkServerConnection& connection, std::shared_ptr<ServerCall> call)
      : connection_(connection), call_(std::move(call)) {}

  std::shared_ptr<ReplySender> Defer() override {
    deferred_ = true;
    return std::make_shared<Sender>(connection_.shared_from_this(), call_);
  }
  bool deferred() const { return deferred_; }

 private:
  struct Sender final : ReplySender {
    Sender(std::shared_ptr<LinkServerConnection> c, std::shared_ptr<ServerCall> k)
        : connection(std::move(c)), call(std::move(k)) {}
    void Send(Status status, OutgoingMessage reply) override {
      connection->FinishDeferred(*call, std::move(status), std::move(reply));
    }
    std::shared_ptr<LinkServerConnection> connection;
    std::shared_ptr<ServerCall> call;
  };

  LinkServerConnection& connection_;
  std::shared_ptr<ServerCall> call_;
  bool deferred_ = false;
};

void LinkServerConnection::RunStream(const std::shared_ptr<ServerCall>& call,
                                     StreamThread& self) {
  MarkHandlerThreadOf(*env_.methods);
  stream_thread_of = this;
  Status status;
  OutgoingMessage reply = link_->NewMessage(0);
  if (call->client_writes()) {
    // The client may write once it knows our window.
    status = link_->Send(call->InitialWindow(), nullptr, call->Deadline());
  }
  const bool replies = call->kind() == static_cast<uint8_t>(MethodKind::kClientStreaming);
  // A client stream's handler may keep its reply (Reply::Defer) and send it from any thread.
  Deferral deferral(*this, call);
  if (status.ok()) {
    const IncomingMessage& request = call->request();
    try {
      status = Intercepted(env_.interceptors, *call, [&] {
        return internal::RunStream(call->resolved(), *call,
                                   request.size() > 0 ? request.data() : nullptr, request.size(),
                                   *call, reply, replies ? &deferral : nullptr);
      });
    } catch (const std::exception& e) {
      status = Status::Internal(std::string("call failed inside the runtime: ") + e.what());
    }
  }
  call->DropRequest();
  if (deferral.deferred()) {
    // The reply goes out through its sender (FinishDeferred). Nobody reads the stream any
    // more: what it holds goes back now, what the client still writes is dropped as it comes.
    std::lock_guard lock(mutex_);
    call->StopReadingLocked();
  } else {
    status = call->Conclude(std::move(status));
    {
      std::lock_guard lock(mutex_);
      active_.erase(call->id());
    }
    SendReply(*call, status, status.ok() && replies ? &reply : nullptr);
    reply = OutgoingMessage();
    Count(*call, status.code());
    CallEnded();
  }
  std::lock_guard lock(mutex_);
  // A link this writer left unparked is parked by a worker's turn now, not a grace later
  // (another stream still writing unparks it again when it next looks).
  if (writer_unparked_) {
    writer_read_at_ = Clock::time_point::min();
    if (role_ == Role::kFree && !stopping_) (void)loop_->Post(weak_from_this(), kInbound);
  }
  self.done = true;  // the last touch of this object: the thread is joined after it
  // A thread cannot join itself: a worker finishes the connection.
  if (ReadyToFinishLocked()) (void)loop_->Post(weak_from_this(), kFinish);
}

LogRecord LinkServerConnection::AboutPeer(std::string_view message, std::string_view method,
                                          StatusCode status) const {
  return LogRecord{.message = message,
                   .endpoint = env_.endpoint,
                   .peer = peer_.get(),
                   .method = method,
                   .status = status};
}

void LinkServerConnection::Count(const ServerCall& call, StatusCode code) const {
  if (env_.counters == nullptr) return;
  const auto counters = env_.counters->find(call.method_id());
  if (counters != env_.counters->end()) {
    counters->second->Record(code, ServerCall::Clock::now() - call.started());
  }
}

void LinkServerConnection::CallEnded() {
  std::lock_guard lock(mutex_);
  if (--calls_running_ == 0) drained_.notify_all();
}

void LinkServerConnection::Drain() {
  std::lock_guard lock(mutex_);
  draining_ = true;
}

void LinkServerConnection::Linger(Clock::time_point until) {
  std::unique_lock lock(mutex_);
  if (!link_ || stopping_) return;
  link_->CloseWrites();
  // The reader goes on (taking the client's last window updates) until the client leaves.
  drained_.wait_until(lock, until, [&] { return stopping_; });
}

bool LinkServerConnection::WaitDrained(Clock::time_point until) {
  std::unique_lock lock(mutex_);
  return drained_.wait_until(lock, until, [&] { return calls_running_ == 0 || stopping_; }) &&
         calls_running_ == 0;
}

void LinkServerConnection::FinishDeferred(ServerCall& call, Status status, OutgoingMessage reply) {
  status = call.Conclude(std::move(status));
  {
    std::lock_guard lock(mutex_);
    active_.erase(call.id());
    // Finished: the client is gone, and so may be the server (its counters, its log), which
    // a handler's DeferredReply can outlive.
    if (finished_.load(std::memory_order_relaxed)) return;
    ++deferred_sending_;
  }
  const StatusCode code = status.code();
  SendReply(call, std::move(status), &reply);
  Count(call, code);
  {
    std::lock_guard lock(mutex_);
    if (--deferred_sending_ == 0) deferred_sent_.notify_all();
  }
  CallEnded();
}

void LinkServerConnection::Handle(const std::shared_ptr<ServerCall>& call,
                                  const std::function<bool()>& ran) {
  OutgoingMessage reply = link_->NewMessage(0);
  Deferral deferral(*this, call);
  Status status;
  try {
    const IncomingMessage& request = call->request();
    status = Intercepted(env_.interceptors, *call, [&] {
      return RunUnary(call->resolved(), *call, request.data(), request.size(), reply, &deferral);
    });
  } catch (const std::exception& e) {  // std::bad_alloc around the handler
    status = Status::Internal(std::string("call failed inside the runtime: ") + e.what());
  }
  call->DropRequest();  // the request's memory goes back before the reply is sent
  if (deferral.deferred()) {  // the reply goes out through its sender (FinishDeferred)
    (void)ran();
    return;
  }
  status = call->Conclude(std::move(status));
  {
    std::lock_guard lock(mutex_);
    active_.erase(call->id());
  }
  // The reading role's holder with the next call already read in sends its reply with the
  // replies to those calls (one system call for a burst of pipelined calls); it sends them
  // before it waits for more.
  const bool batch = ran() && link_->Batches() && link_->InboundReady();
  if (call->kind() == static_cast<uint8_t>(MethodKind::kOneway)) {
    if (!status.ok()) {
      const std::string message = "oneway call failed: " + status.message();
      Log(AboutPeer(message, call->method(), status.code()));
    }
    Count(*call, status.code());
  } else {
    const StatusCode code = status.code();
    SendReply(*call, std::move(status), &reply, batch);
    Count(*call, code);
  }
  CallEnded();
}

void LinkServerConnection::SendReply(ServerCall& call, Status status, OutgoingMessage* reply,
                                     bool batch) {
  CallHeader header;
  header.type = FrameType::kReply;
  header.call_id = call.id();
  OutgoingMessage* payload = status.ok() ? reply : nullptr;
  if (payload != nullptr && !payload->finished()) payload = nullptr;  // oneway, streams
  for (;;) {
    header.status_code = static_cast<uint32_t>(status.code());
    header.status_message = WireStatusMessage(status);
    // Blocks while the client does not read (Stop() ends that; sockets bound a frame by its
    // frame time). Not by the call's deadline: a queue link would finish a frame the deadline
    // cut from a copy, and such copies of large replies pile up in a server's heap (the chaos
    // test saw 30 MiB stay). A failed send means the client is gone (or the link broke): the
    // reader sees it.
    const Status sent = batch ? link_->SendBatched(header, payload, Clock::time_point::max())
                              : link_->Send(header, payload, Clock::time_point::max());
    if (payload == nullptr || sent.ok()) return;
    if (sent.code() != StatusCode::kResourceExhausted &&
        sent.code() != StatusCode::kInvalidArgument) {
      if (sent.code() != StatusCode::kDeadlineExceeded) return;
      status = Status::DeadlineExceeded("the reply could not be sent before the deadline: " +
                                        sent.message());
    } else {
      status = sent;  // too large for the client, or unusable: the client learns why
    }
    payload = nullptr;
  }
}

}  // namespace ferry::internal
