// Streams, typed on both sides, and asynchronous unary calls.
//
// Client (generated stubs return these):
//   auto ticks = calc.Countdown(request);            // server streaming
//   for (auto& tick : ticks) Use(tick->value());
//   ferry::Status end = ticks.Finish();
//
//   auto upload = calc.Upload();                     // client streaming
//   auto frame = upload.NewMessage(size);  frame.Finish(...);  upload.Write(std::move(frame));
//   ferry::Result<ferry::MessageView<Empty>> reply = upload.Finish();
//
//   auto chat = calc.Chat();                         // bidi: Write, WritesDone, Read, Finish
//
// Server (a handler gets these by reference): ServerWriter<T> (server streaming),
// ServerReader<T> (client streaming), ServerStream<In, Out> (bidi).
//
// Every message is built in place in transport memory and read in place. A stream has a flow
// control window (ConnectOptions and ServerOptions): Write blocks while the reader is that far
// behind, until the call's deadline. Any side may end the call early: the client with Cancel(),
// the server by returning from its handler; the other side then sees the end of the stream,
// and Finish() (client) or ctx.Cancelled() (server) says why.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ferry/message.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {
namespace internal {

class ClientCall;  // the call engine's state of one client call (runtime)

// Untyped operations on one client call; the typed classes below wrap it. A default or
// failed-to-open handle behaves as a call that ended with its status.
class ClientCallHandle {
 public:
  using Clock = std::chrono::steady_clock;

  ClientCallHandle() = default;
  explicit ClientCallHandle(std::shared_ptr<ClientCall> call) : call_(std::move(call)) {}

  OutgoingMessage NewMessage(size_t size_hint);
  // Sends one stream message, waiting for window room by the call's deadline. Not OK once the
  // call has ended (Finish() then says how).
  Status Write(OutgoingMessage message);
  Status WritesDone();
  // The next stream message; nullopt once the stream has ended (Finish() says how).
  std::optional<IncomingMessage> Read();
  // Waits for the call's end: its status and, for unary and client streaming, the reply.
  // Once; later calls return the same status without the reply.
  Result<IncomingMessage> Finish();
  // True once the call has ended (Finish() will not block); waits until `deadline` for it.
  bool Wait(Clock::time_point deadline);
  // Runs `on_end` once the call has ended: on the channel's completion thread, or at once on
  // this thread if it already has.
  void Then(std::function<void()> on_end);
  // Ends the call with CANCELLED (if it has not ended) and tells the server.
  void Cancel();
  // Ends the call with `why` (a message from the server failed verification) and tells the
  // server.
  void Fail(Status why);

 private:
  std::shared_ptr<ClientCall> call_;
};

// What a streaming handler's reader and writer talk to (the engine implements it).
class ServerStreamPort {
 public:
  virtual OutgoingMessage NewMessage(size_t size_hint) = 0;
  virtual Status Write(OutgoingMessage message) = 0;
  virtual std::optional<IncomingMessage> Read() = 0;
  // Ends the call with `why` (a message from the client failed verification).
  virtual void Reject(Status why) = 0;

 protected:
  ~ServerStreamPort() = default;
};

// A received stream message, verified as a T; one that fails ends the call through `fail`
// with `code` (DATA_LOSS from a server, INVALID_ARGUMENT from a client).
template <class T>
std::optional<MessageView<T>> VerifiedOrFail(std::optional<IncomingMessage> message,
                                             StatusCode code,
                                             const std::function<void(Status)>& fail) {
  if (!message) return std::nullopt;
  if (!Verify<T>(message->data(), message->size())) {
    fail(Status(code, "stream message of " + std::to_string(message->size()) +
                          " bytes failed FlatBuffers verification"));
    return std::nullopt;
  }
  return MessageView<T>(std::move(*message));
}

template <class T>
Result<MessageView<T>> VerifiedReply(Result<IncomingMessage> reply) {
  if (!reply.ok()) return reply.status();
  if (!Verify<T>(reply->data(), reply->size())) {
    return Status::DataLoss("reply of " + std::to_string(reply->size()) +
                            " bytes failed FlatBuffers verification");
  }
  return MessageView<T>(std::move(*reply));
}

// Range-for over a reader: `for (auto& message : reader)`.
template <class Reader, class T>
class ReadIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = MessageView<T>;
  using difference_type = std::ptrdiff_t;
  using pointer = MessageView<T>*;
  using reference = MessageView<T>&;

  ReadIterator() = default;
  explicit ReadIterator(Reader* reader) : reader_(reader) { ++*this; }
  MessageView<T>& operator*() { return *current_; }
  MessageView<T>* operator->() { return &*current_; }
  ReadIterator& operator++() {
    current_ = reader_->Read();
    if (!current_) reader_ = nullptr;
    return *this;
  }
  friend bool operator==(const ReadIterator& a, const ReadIterator& b) {
    return a.reader_ == b.reader_;
  }

 private:
  Reader* reader_ = nullptr;
  std::optional<MessageView<T>> current_;
};

}  // namespace internal

// The client's side of a server-streaming call: read messages until the end, then Finish().
template <class T>
class ClientReader {
 public:
  explicit ClientReader(internal::ClientCallHandle call) : call_(std::move(call)) {}

  // The next message; nullopt at the end of the stream or when the call failed.
  std::optional<MessageView<T>> Read() {
    return internal::VerifiedOrFail<T>(call_.Read(), StatusCode::kDataLoss, [this](Status why) { call_.Fail(why); });
  }
  // The call's outcome (OK when the server finished the stream normally). Waits for it.
  Status Finish() { return call_.Finish().status(); }
  void Cancel() { call_.Cancel(); }

  internal::ReadIterator<ClientReader, T> begin() { return internal::ReadIterator<ClientReader, T>(this); }
  internal::ReadIterator<ClientReader, T> end() { return {}; }

 private:
  internal::ClientCallHandle call_;
};

// The client's side of a client-streaming call: write messages, then Finish() for the reply.
template <class Req, class Rep>
class ClientWriter {
 public:
  explicit ClientWriter(internal::ClientCallHandle call) : call_(std::move(call)) {}

  // A message to write, built in transport memory (size_hint: its final size, if known).
  MessageBuilder<Req> NewMessage(size_t size_hint = 0) {
    return MessageBuilder<Req>(call_.NewMessage(size_hint));
  }
  // Blocks while the server is a window behind (until the call's deadline). Not OK once the
  // call has ended: Finish() then gives its status.
  Status Write(MessageBuilder<Req>&& message) { return call_.Write(std::move(message).TakeMessage()); }
  // Ends the writing (Finish() does it too) and waits for the server's reply.
  Result<MessageView<Rep>> Finish() {
    (void)call_.WritesDone();
    return internal::VerifiedReply<Rep>(call_.Finish());
  }
  void Cancel() { call_.Cancel(); }

 private:
  internal::ClientCallHandle call_;
};

// The client's side of a bidi-streaming call.
template <class Req, class Rep>
class ClientReaderWriter {
 public:
  explicit ClientReaderWriter(internal::ClientCallHandle call) : call_(std::move(call)) {}

  MessageBuilder<Req> NewMessage(size_t size_hint = 0) {
    return MessageBuilder<Req>(call_.NewMessage(size_hint));
  }
  Status Write(MessageBuilder<Req>&& message) { return call_.Write(std::move(message).TakeMessage()); }
  // No more messages from this side; the server's messages keep coming.
  Status WritesDone() { return call_.WritesDone(); }
  std::optional<MessageView<Rep>> Read() {
    return internal::VerifiedOrFail<Rep>(call_.Read(), StatusCode::kDataLoss, [this](Status why) { call_.Fail(why); });
  }
  Status Finish() {
    (void)call_.WritesDone();
    return call_.Finish().status();
  }
  void Cancel() { call_.Cancel(); }

  internal::ReadIterator<ClientReaderWriter, Rep> begin() {
    return internal::ReadIterator<ClientReaderWriter, Rep>(this);
  }
  internal::ReadIterator<ClientReaderWriter, Rep> end() { return {}; }

 private:
  internal::ClientCallHandle call_;
};

// The result of an asynchronous unary call (Method##Async): a future with a cancel handle.
template <class Rep>
class AsyncReply {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AsyncReply(internal::ClientCallHandle call) : call_(std::move(call)) {}

  // Waits for the outcome. Once: a second Get() returns the status without the reply.
  Result<MessageView<Rep>> Get() { return internal::VerifiedReply<Rep>(call_.Finish()); }
  // True once the outcome is in (Get() will not block); waits until `deadline` for it.
  bool Wait(Clock::time_point deadline) { return call_.Wait(deadline); }
  // Runs callback(Result<MessageView<Rep>>) once the outcome is in: on the channel's
  // completion thread, or at once on this thread if it already is. Replaces Get().
  template <class Callback>
  void Then(Callback callback) {
    call_.Then([call = call_, callback = std::move(callback)]() mutable {
      callback(internal::VerifiedReply<Rep>(call.Finish()));
    });
  }
  // Ends the call with CANCELLED (if it has not ended) and tells the server.
  void Cancel() { call_.Cancel(); }

 private:
  internal::ClientCallHandle call_;
};

// A server-streaming handler's writer.
template <class T>
class ServerWriter {
 public:
  explicit ServerWriter(internal::ServerStreamPort& port) : port_(port) {}
  ServerWriter(const ServerWriter&) = delete;
  ServerWriter& operator=(const ServerWriter&) = delete;

  MessageBuilder<T> NewMessage(size_t size_hint = 0) {
    return MessageBuilder<T>(port_.NewMessage(size_hint));
  }
  // Blocks while the client is a window behind, until the call's deadline. Not OK once the
  // call is over for the client (cancelled, deadline, gone): stop writing and return.
  Status Write(MessageBuilder<T>&& message) { return port_.Write(std::move(message).TakeMessage()); }

 private:
  internal::ServerStreamPort& port_;
};

// A client-streaming handler's reader.
template <class T>
class ServerReader {
 public:
  explicit ServerReader(internal::ServerStreamPort& port) : port_(port) {}
  ServerReader(const ServerReader&) = delete;
  ServerReader& operator=(const ServerReader&) = delete;

  // The next message; nullopt when the client has finished writing, or the call is over.
  std::optional<MessageView<T>> Read() {
    return internal::VerifiedOrFail<T>(port_.Read(), StatusCode::kInvalidArgument, [this](Status why) { port_.Reject(why); });
  }
  internal::ReadIterator<ServerReader, T> begin() { return internal::ReadIterator<ServerReader, T>(this); }
  internal::ReadIterator<ServerReader, T> end() { return {}; }

 private:
  internal::ServerStreamPort& port_;
};

// A bidi-streaming handler's reader and writer.
template <class In, class Out>
class ServerStream {
 public:
  explicit ServerStream(internal::ServerStreamPort& port) : port_(port) {}
  ServerStream(const ServerStream&) = delete;
  ServerStream& operator=(const ServerStream&) = delete;

  std::optional<MessageView<In>> Read() {
    return internal::VerifiedOrFail<In>(port_.Read(), StatusCode::kInvalidArgument, [this](Status why) { port_.Reject(why); });
  }
  MessageBuilder<Out> NewMessage(size_t size_hint = 0) {
    return MessageBuilder<Out>(port_.NewMessage(size_hint));
  }
  Status Write(MessageBuilder<Out>&& message) { return port_.Write(std::move(message).TakeMessage()); }

  internal::ReadIterator<ServerStream, In> begin() { return internal::ReadIterator<ServerStream, In>(this); }
  internal::ReadIterator<ServerStream, In> end() { return {}; }

 private:
  internal::ServerStreamPort& port_;
};

}  // namespace ferry
