// Messages built and read in place in transport memory (shared-memory slots).
//
//   RequestBuilder<T> / Reply<T>: a FlatBufferBuilder whose buffer is a slot; Finish() seals it.
//   ReplyView<T>: a verified message read in place; its slot goes back to the pool when the
//   view is destroyed.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "ferry/status.h"

namespace ferry {

class Channel;

namespace internal {

// Memory a transport lends to a message under construction. Implementations fall back to
// the heap instead of returning null (FlatBuffers cannot handle a failed allocation); such a
// message can still be built but not sent, and Usable() says why.
class MessageAllocator : public flatbuffers::Allocator {
 public:
  // OK when every byte of the message lives in memory the transport can hand over.
  virtual Status Usable() const = 0;
};

// A message under construction. Move-only.
class OutgoingMessage {
 public:
  OutgoingMessage() = default;
  OutgoingMessage(std::unique_ptr<MessageAllocator> allocator, size_t size_hint);
  OutgoingMessage(OutgoingMessage&&) = default;
  // By hand: the old builder must release its buffer through the old allocator before that
  // allocator goes (the defaulted order would free the allocator first).
  OutgoingMessage& operator=(OutgoingMessage&& other) noexcept {
    if (this != &other) {
      fbb_ = std::move(other.fbb_);
      allocator_ = std::move(other.allocator_);
      finished_ = std::exchange(other.finished_, false);
    }
    return *this;
  }

  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }
  // Before anything is written: makes the first buffer `size_hint` bytes (no growth copies
  // for a message that fits). Ignored once building has started.
  void Reserve(size_t size_hint) {
    if (fbb_.GetSize() == 0 && size_hint != 0) {
      fbb_ = flatbuffers::FlatBufferBuilder(size_hint, allocator_.get(), false);
    }
  }
  bool finished() const { return finished_; }
  void MarkFinished() { finished_ = true; }
  // Null for a default-constructed message.
  MessageAllocator* allocator() const { return allocator_.get(); }

 private:
  // Declared before fbb_ so the builder (which frees through it) is destroyed first.
  std::unique_ptr<MessageAllocator> allocator_;
  flatbuffers::FlatBufferBuilder fbb_;
  bool finished_ = false;
};

// Whoever owns the memory an IncomingMessage points into (a shared-memory connection).
class MessageOwner {
 public:
  virtual ~MessageOwner() = default;
  // Gives the memory named by `token` back. Called once per message, from any thread.
  virtual void ReleaseMessage(uint64_t token) = 0;
};

// A received message, read in place. Move-only; releases its memory on destruction.
class IncomingMessage {
 public:
  IncomingMessage() = default;
  IncomingMessage(const uint8_t* data, size_t size, std::shared_ptr<MessageOwner> owner,
                  uint64_t token)
      : data_(data), size_(size), owner_(std::move(owner)), token_(token) {}
  IncomingMessage(IncomingMessage&& other) noexcept { *this = std::move(other); }
  IncomingMessage& operator=(IncomingMessage&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      owner_ = std::move(other.owner_);
      token_ = other.token_;
    }
    return *this;
  }
  IncomingMessage(const IncomingMessage&) = delete;
  IncomingMessage& operator=(const IncomingMessage&) = delete;
  ~IncomingMessage() { Release(); }

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Release() {
    if (owner_) std::exchange(owner_, nullptr)->ReleaseMessage(token_);
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<MessageOwner> owner_;
  uint64_t token_ = 0;
};

// Creates a message in the channel's transport memory (in private memory while the channel's
// connection is lost: the call then connects again and copies it to the new connection, or
// fails with UNAVAILABLE).
OutgoingMessage NewMessage(const Channel& channel, size_t size_hint);

// Limits every inbound message is verified against.
inline constexpr uint32_t kVerifierMaxDepth = 64;
inline constexpr uint32_t kVerifierMaxTables = 1000000;

template <class T>
bool Verify(const uint8_t* data, size_t size) {
  flatbuffers::Verifier verifier(data, size, kVerifierMaxDepth, kVerifierMaxTables);
  return verifier.VerifyBuffer<T>(nullptr);
}

}  // namespace internal

// A message of type T being built in place in transport memory: a request, or a stream
// message from a stream's NewMessage(). Move-only.
template <class T>
class MessageBuilder {
 public:
  explicit MessageBuilder(internal::OutgoingMessage message) : message_(std::move(message)) {}

  flatbuffers::FlatBufferBuilder& fbb() { return message_.fbb(); }
  void Finish(flatbuffers::Offset<T> root) {
    message_.fbb().Finish(root);
    message_.MarkFinished();
  }
  bool finished() const { return message_.finished(); }

  // For generated code and streams: hands the message over.
  internal::OutgoingMessage TakeMessage() && { return std::move(message_); }

 private:
  internal::OutgoingMessage message_;
};

// A request of type T being built in place. Obtain one from a generated client's
// New<Method>Request(size_hint); a size_hint of the final size avoids any growth copy.
template <class T>
class RequestBuilder : public MessageBuilder<T> {
 public:
  RequestBuilder(const Channel& channel, size_t size_hint)
      : MessageBuilder<T>(internal::NewMessage(channel, size_hint)) {}
};

namespace internal {

// Where a reply the handler finishes later goes (the call engine implements it).
class ReplySender {
 public:
  virtual ~ReplySender() = default;
  // Sends the call's outcome: `reply` (finished) when `status` is OK. Once.
  virtual void Send(Status status, OutgoingMessage reply) = 0;
};

// What lets a handler keep its reply past its return (the engine's call implements it).
class ReplyDeferral {
 public:
  // The sender the reply goes through; from now on the handler's return value is ignored.
  virtual std::shared_ptr<ReplySender> Defer() = 0;

 protected:
  ~ReplyDeferral() = default;
};

}  // namespace internal

template <class T>
class DeferredReply;

// The reply of a unary (or client-streaming) call being built in place by a handler.
template <class T>
class Reply {
 public:
  explicit Reply(internal::OutgoingMessage& message, internal::ReplyDeferral* deferral = nullptr)
      : message_(message), deferral_(deferral) {}
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  // Call first, with the reply's final size, to build a large reply without growth copies.
  void Reserve(size_t size_hint) { message_.Reserve(size_hint); }
  flatbuffers::FlatBufferBuilder& fbb() { return message_.fbb(); }
  void Finish(flatbuffers::Offset<T> root) {
    message_.fbb().Finish(root);
    message_.MarkFinished();
  }
  bool finished() const { return message_.finished(); }

  // Takes the reply out of the handler: finish and send it later, from any thread, through
  // the returned object (the handler then returns at once; its status is ignored). The call
  // stays open, and ctx.Cancelled() keeps working, until it is sent. Copy what you need from
  // the request first: its memory goes back when the handler returns. Once per call.
  DeferredReply<T> Defer();

 private:
  internal::OutgoingMessage& message_;
  internal::ReplyDeferral* deferral_;
};

// A reply finished after its handler returned. Move-only; sends INTERNAL if destroyed unsent.
template <class T>
class DeferredReply {
 public:
  DeferredReply(internal::OutgoingMessage message, std::shared_ptr<internal::ReplySender> sender)
      : message_(std::move(message)), sender_(std::move(sender)) {}
  DeferredReply(DeferredReply&&) = default;
  DeferredReply& operator=(DeferredReply&&) = default;
  ~DeferredReply() {
    if (sender_) Send(Status::Internal("a deferred reply was dropped without being sent"));
  }

  void Reserve(size_t size_hint) { message_.Reserve(size_hint); }
  flatbuffers::FlatBufferBuilder& fbb() { return message_.fbb(); }
  void Finish(flatbuffers::Offset<T> root) {
    message_.fbb().Finish(root);
    message_.MarkFinished();
  }
  // Sends the outcome: the finished reply with OK, else `status` alone. Once.
  void Send(Status status = Status::Ok()) {
    if (!sender_) return;
    if (status.ok() && !message_.finished()) {
      status = Status::Internal("a deferred reply was sent OK without being finished");
    }
    std::exchange(sender_, nullptr)->Send(std::move(status), std::move(message_));
  }

 private:
  internal::OutgoingMessage message_;
  std::shared_ptr<internal::ReplySender> sender_;
};

template <class T>
DeferredReply<T> Reply<T>::Defer() {
  if (deferral_ == nullptr) {
    return DeferredReply<T>(internal::OutgoingMessage(), nullptr);
  }
  return DeferredReply<T>(std::move(message_), deferral_->Defer());
}

// A verified message of type T (a reply, a stream message), read in place. Valid until
// destroyed; may outlive the call and the client stub, and keeps the connection's memory
// mapped while it lives.
template <class T>
class MessageView {
 public:
  explicit MessageView(internal::IncomingMessage message)
      : message_(std::move(message)), root_(flatbuffers::GetRoot<T>(message_.data())) {}

  const T* get() const { return root_; }
  const T* operator->() const { return root_; }
  const T& operator*() const { return *root_; }
  // The raw FlatBuffer.
  const uint8_t* data() const { return message_.data(); }
  size_t size() const { return message_.size(); }

 private:
  internal::IncomingMessage message_;
  const T* root_;
};

template <class T>
using ReplyView = MessageView<T>;

}  // namespace ferry
