// The seam between the call engine and a transport: a connection offers messages, not calls
// (in the manner of Cap'n Proto's VatNetwork::Connection). The engine (call/client_engine.h,
// call/server_engine.h) owns every call rule; a transport only moves a CallHeader and an
// optional payload each way, with the payload built and read in the transport's own memory
// (a shared-memory slot, a pooled socket buffer).
//
// Threads: Send may be called from many threads at once; Receive from one at a time (the
// engine hands the receiving role between its threads).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "call/call_header.h"
#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::internal {

struct InboundMessage {
  CallHeader header;
  // The frame's payload, read in place; empty when the frame carries none.
  IncomingMessage payload;
  // Not OK when the frame arrived but its payload is unusable (shared memory: the descriptor
  // names memory outside its slot). The engine fails that call alone with this status.
  Status payload_status;
};

class MessageLink {
 public:
  virtual ~MessageLink() = default;

  // "shm", "unix", "tcp", "mq".
  virtual std::string_view name() const = 0;
  // A message to build a payload in, in memory the link can hand over. Never fails: when the
  // link cannot lend memory the message is heap-backed and Send refuses it (see
  // MessageAllocator::Usable).
  virtual OutgoingMessage NewMessage(size_t size_hint) = 0;
  // Whether `message` came from this link's NewMessage (the only kind Send takes).
  virtual bool Owns(const OutgoingMessage& message) const = 0;
  // Sends `header` with `payload` (null: none; else a finished message from this link's
  // NewMessage, which Send consumes on success). `deadline` bounds waiting for room (a free
  // slot, ring space, socket buffer): DEADLINE_EXCEEDED then, and the link is still fine (a
  // frame is never cut short). INVALID_ARGUMENT for a message from elsewhere or unfinished;
  // RESOURCE_EXHAUSTED for a payload over max_message_bytes(); UNAVAILABLE once the link is
  // down.
  virtual Status Send(const CallHeader& header, OutgoingMessage* payload,
                      std::chrono::steady_clock::time_point deadline) = 0;
  // Send that may hold the message back in a batch, until the next Send, Flush(), or the
  // moment Receive would wait (see FrameLink::SendBatched): only while a thread is in, or
  // heading for, Receive.
  virtual Status SendBatched(const CallHeader& header, OutgoingMessage* payload,
                             std::chrono::steady_clock::time_point deadline) {
    return Send(header, payload, deadline);
  }
  // Sends what SendBatched held back (see FrameLink::Flush).
  virtual void Flush() {}
  // Whether SendBatched may hold anything back (links whose SendBatched is plain Send say no,
  // so that nobody looks at the inbound side only to decide to batch).
  virtual bool Batches() const { return false; }
  // Whether Receive would return a message without waiting. For the receiving role's holder.
  virtual bool InboundReady() const { return false; }
  // The next inbound message. DEADLINE_EXCEEDED when none has begun to arrive by `deadline`;
  // UNAVAILABLE when the peer is gone or Shutdown() was called; DATA_LOSS when the peer broke
  // the protocol (the link is then unusable: the engine shuts it down).
  virtual Result<InboundMessage> Receive(std::chrono::steady_clock::time_point deadline) = 0;
  // Whether Receive may spin a little before it sleeps (links that never spin ignore this).
  // The engine says no while its own threads need the CPU (a handler or a stream's writer
  // runs) or nothing is expected soon; yes (the default) when the next message is what starts
  // work, such as a caller's next request.
  virtual void AllowSpinning(bool allowed) { (void)allowed; }
  // Serving without a thread of its own (a server's links that support it: shared memory).
  // A server's worker reads with Poll() until it says DEADLINE_EXCEEDED, Park()s the link,
  // and waits in epoll for a doorbell to turn readable (edge-triggered) before it reads on.
  struct Doorbells {
    int inbound = -1;   // rings when a message arrives for a parked link; -1: not pollable
    int liveness = -1;  // turns readable when the peer may be gone: then call CheckPeer()
  };
  virtual Doorbells doorbells() const { return {}; }
  // Receive without sleeping: the next message if one is there or comes while the link spins
  // (see AllowSpinning); DEADLINE_EXCEEDED when it would have to sleep.
  virtual Result<InboundMessage> Poll() { return Receive(std::chrono::steady_clock::now()); }
  // Arranges that the next inbound message rings the inbound doorbell. False when a message is
  // already waiting (then read on: no ring may come for it).
  virtual bool Park() { return true; }
  // Undoes Park() once a worker reads the link again, so messages stop ringing for nothing.
  virtual void Unpark() {}
  // The liveness doorbell turned readable: ends the link if the peer is gone.
  virtual void CheckPeer() {}
  // Ends the link: Send and Receive fail with UNAVAILABLE from now on, in every thread.
  // Idempotent, thread-safe.
  virtual void Shutdown() = 0;
  // This side sends nothing more; the peer reads what was sent and then sees the link end
  // (a server closing gracefully, so that no byte the client has not read is lost). Receive
  // goes on. The default does nothing (transports where closing loses nothing).
  virtual void CloseWrites() {}
  // False once the peer is gone or Shutdown() was called.
  virtual bool connected() const = 0;
  // Whether the peer is gone, as far as can be seen without waiting: !connected(), or (links
  // that learn it only by reading) the peer has hung up although nothing has read that yet.
  // A system call on some links: for a client about to start a call, not for every message.
  virtual bool PeerGone() const { return !connected(); }
  // Payload bytes copied on this side so far (growth across buffers, staging, kernel copies).
  virtual uint64_t bytes_copied() const = 0;
  // The largest payload Send accepts.
  virtual uint64_t max_message_bytes() const = 0;
};

}  // namespace ferry::internal
