// Serving one client over a FrameLink: handshake, read loop, handler workers, replies.
#include "core/link_server_connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/call_frame.h"
#include "core/deadline.h"
#include "core/heap_allocator.h"
#include "core/log.h"

namespace ferry::internal {
namespace {

bool ProbeCancelled(const void* arg) {
  return static_cast<const std::atomic<bool>*>(arg)->load(std::memory_order_relaxed);
}

// A status the runtime produced before any handler ran: the client sent something this
// server cannot serve, which is worth one log line.
bool RejectedBeforeHandler(const Status& status) {
  return status.code() == StatusCode::kUnimplemented ||
         (status.code() == StatusCode::kFailedPrecondition &&
          status.message().find("schemas differ") != std::string::npos) ||
         (status.code() == StatusCode::kInvalidArgument &&
          status.message().find("failed FlatBuffers verification") != std::string::npos);
}

}  // namespace

LinkServerConnection::LinkServerConnection(Fd socket, OpenLink open_link, ConnectionEnv env)
    : socket_(std::move(socket)), open_link_(std::move(open_link)), env_(std::move(env)) {}

LinkServerConnection::~LinkServerConnection() {
  Stop();
  Join();
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
  stopping_ = true;
  if (link_) link_->Shutdown();
  if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);  // ends a handshake in progress
  changed_.notify_all();
}

void LinkServerConnection::Join() {
  if (thread_.joinable()) thread_.join();
}

void LinkServerConnection::Serve() {
  Result<std::unique_ptr<FrameLink>> link = open_link_(socket_.get(), env_);
  if (!link.ok()) {
    LogLine("handshake failed: " + link.status().ToString());
  } else {
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      link_ = std::move(*link);
      stopping = stopping_;
      if (stopping) link_->Shutdown();
    }
    const uint32_t workers = std::max(1U, env_.options->workers_per_connection);
    try {
      for (uint32_t i = 0; i < workers && !stopping; ++i) {
        workers_.emplace_back([this] { WorkLoop(); });
      }
    } catch (const std::system_error& e) {
      LogLine(std::string("cannot start handler threads: ") + e.what());
    }
    if (!workers_.empty()) ReadLoop();
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      link_->Shutdown();
      for (auto& [id, request] : active_) request->cancelled.store(true);
      changed_.notify_all();
    }
    for (std::thread& worker : workers_) worker.join();
  }
  if (socket_.valid()) shutdown(socket_.get(), SHUT_RDWR);
  finished_.store(true, std::memory_order_release);
  env_.on_finished();
}

void LinkServerConnection::ReadLoop() {
  const size_t max_queued = std::max(1U, env_.options->max_queued_calls);
  for (;;) {
    Result<PooledBuffer> frame = link_->Receive();
    if (!frame.ok()) {
      if (frame.status().code() != StatusCode::kUnavailable) {
        LogLine("closing a " + std::string(link_->name()) + " connection: " +
                frame.status().ToString());
      }
      return;
    }
    Result<DecodedFrame> decoded = DecodeCallFrame({frame->data(), frame->size()});
    if (!decoded.ok()) {
      LogLine("closing a " + std::string(link_->name()) + " connection: " +
              decoded.status().ToString());
      return;
    }
    const CallFields& fields = decoded->fields;
    std::unique_lock lock(mutex_);
    if (fields.type == FrameType::kCancel) {
      if (auto found = active_.find(fields.call_id); found != active_.end()) {
        found->second->cancelled.store(true, std::memory_order_relaxed);
      }
      continue;
    }
    if (fields.type != FrameType::kRequest) {
      LogLine("closing a " + std::string(link_->name()) + " connection: the client sent a reply");
      return;
    }
    if (active_.count(fields.call_id) != 0) {
      LogLine("closing a " + std::string(link_->name()) +
              " connection: the client reused a call id in flight");
      return;
    }
    changed_.wait(lock, [&] { return stopping_ || queue_.size() < max_queued; });
    if (stopping_) return;
    auto request = std::make_shared<Request>();
    request->call_id = fields.call_id;
    request->method_id = fields.method_id;
    request->kind = fields.kind;
    request->payload_offset = decoded->payload_offset;
    request->payload_size = decoded->payload_size;
    request->deadline = fields.deadline_us == 0
                            ? Clock::time_point::max()
                            : DeadlineAfter(std::chrono::microseconds(fields.deadline_us));
    request->frame = std::move(*frame);
    bytes_copied_.fetch_add(request->payload_size, std::memory_order_relaxed);
    active_.emplace(request->call_id, request);
    queue_.push_back(std::move(request));
    changed_.notify_all();
  }
}

void LinkServerConnection::WorkLoop() {
  MarkHandlerThreadOf(*env_.methods);
  for (;;) {
    std::shared_ptr<Request> request;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      changed_.notify_all();  // room in the queue for the reader
    }
    Handle(*request);
    std::lock_guard lock(mutex_);
    active_.erase(request->call_id);
  }
}

void LinkServerConnection::Handle(Request& request) {
  const InboundCall call{request.method_id,
                         request.kind,
                         request.frame.data() + request.payload_offset,
                         request.payload_size,
                         request.deadline,
                         &ProbeCancelled,
                         &request.cancelled};
  OutgoingMessage reply(std::make_unique<HeapAllocator>(shared_from_this(),
                                                        env_.options->max_message_bytes,
                                                        bytes_copied_),
                        0);
  Status status;
  try {
    status = Dispatch(*env_.methods, call, reply);
  } catch (const std::exception& e) {  // std::bad_alloc around the handler
    status = Status::Internal(std::string("call failed inside the runtime: ") + e.what());
  }
  if (RejectedBeforeHandler(status)) LogLine("rejected a call: " + status.ToString());
  request.frame = PooledBuffer();  // the request's memory goes back before the reply is sent
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
  fields.status_message = outcome.message().substr(0, 4096);
  const EncodedHeader header(fields);
  const FrameLink::Part parts[] = {header.header(), header.padding(), payload};
  bytes_copied_.fetch_add(payload.size(), std::memory_order_relaxed);
  (void)link_->Send(parts);  // a failed send means the client is gone: the reader sees it
}

}  // namespace ferry::internal
