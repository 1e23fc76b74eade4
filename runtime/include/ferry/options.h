// Tunables for calls, connections and servers. Every bound ferry enforces is named here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "ferry/service.h"
#include "ferry/status.h"

namespace ferry {

// Per call.
struct CallOptions {
  // How long the call may take, counted from the moment it is made; zero means no deadline,
  // a negative value one that has already passed. Past it the call fails with
  // DEADLINE_EXCEEDED and the server sees ctx.Cancelled().
  std::chrono::nanoseconds deadline{0};
  // When the channel already has ConnectOptions::max_calls_in_flight calls open: true waits
  // for one to end (until the deadline); false fails at once with RESOURCE_EXHAUSTED.
  bool wait_for_capacity = true;
};

// Flow control of one stream direction: how far a writer may run ahead of its reader. The
// reader acknowledges what it consumed at half a window; each acknowledgement wakes the
// writer's side, so a window much smaller than the default slows streams of small messages.
struct StreamWindow {
  // Messages written and not yet read (each holds a shared-memory slot on shm).
  uint32_t messages = 256;
  // Their payload bytes; a single larger message is still let through when nothing else is
  // outstanding.
  uint64_t bytes = 4 * 1024 * 1024;
};

// One size class of the shared-memory slot pools.
struct SlotClass {
  uint32_t slot_bytes;  // capacity of each slot; a multiple of 64
  uint32_t slot_count;  // slots of this size in each connection's segment
};

// Shape of the shared-memory segment the server creates for each connection.
// The defaults reserve about 341 MiB of address space per connection; the memfd behind it
// backs only the pages messages touch (an idle connection that never carried a message
// larger than 4 KiB touches a few hundred KiB; see docs/design-notes.md, "Slot classes").
struct ShmOptions {
  // Smallest first. A message is built in the smallest class that fits and moves to a larger
  // class as it grows; past the largest it fails with RESOURCE_EXHAUSTED. Each class is at
  // least twice the size of the payloads it is meant for, so FlatBuffers' own overhead and its
  // 1.5x growth steps stay in the class: a 1 MiB payload fits a 2 MiB slot, a 16 MiB payload
  // a 32 MiB slot however it was built. The counts let several threads keep such messages in
  // flight at once (a call holds a request slot and then a reply slot); when every slot of a
  // class is taken a message waits for one by its call's deadline (see slot_wait).
  std::vector<SlotClass> slot_classes{{4 * 1024, 256},
                                      {64 * 1024, 64},
                                      {512 * 1024, 32},
                                      {2 * 1024 * 1024, 32},
                                      {32 * 1024 * 1024, 8}};
  // Messages in flight each way per connection: requests, replies, stream messages and
  // control frames sent and not yet taken by the peer. It sizes the segment's two rings
  // (rounded up to a power of two, at least 256; 1..65536); a sender that finds its ring full
  // waits for room by its call's deadline.
  uint32_t max_calls_in_flight = 256;
};

// What a client interceptor is told of a call before it is made.
struct ClientCallInfo {
  std::string_view method;  // "package.Service.Method"
  MethodKind kind;
  std::string_view endpoint;  // what the channel connected to
  std::chrono::nanoseconds deadline;  // CallOptions::deadline as the caller gave it (0: none)
};

// Runs around every call made on a channel (ConnectOptions::interceptors), in the manner of
// gRPC's client interceptors: `next` runs the rest of the chain, then makes the call, and
// returns its status. An interceptor may refuse the call by returning a status without calling
// `next` (nothing is sent; the caller gets that status), time it, log it, or turn the status
// `next` returned into another (an error drops the reply). Call `next` at most once; returning
// OK without calling it fails the call with INTERNAL. For unary and oneway calls `next` returns
// once the call has ended; for streams and asynchronous calls, once the call is handed to the
// connection (OK: its end is the handle's to say; an error returned then cancels it).
using ClientInterceptor =
    std::function<Status(const ClientCallInfo& call, const std::function<Status()>& next)>;

// How a channel whose connection was lost connects again (ConnectOptions::reconnect), in
// the manner of gRPC's connection backoff. A lost connection is replaced on the channel's next
// call, at once; when that attempt fails, calls fail at once with its status (UNAVAILABLE
// when nothing listens) until a backoff has passed, and the next call after it tries again.
// Each failed attempt multiplies the backoff (initial, times multiplier, at most max), each
// wait jittered by +-jitter so that clients of one restarted server do not come back in step;
// a connection made resets it. Calls in flight when the connection was lost fail with
// UNAVAILABLE and are never retried (the server may have run them).
struct ReconnectOptions {
  // False: a lost connection stays lost; every later call fails with UNAVAILABLE.
  bool enabled = true;
  std::chrono::milliseconds initial_backoff{100};
  double multiplier = 1.6;
  std::chrono::milliseconds max_backoff{5000};
  double jitter = 0.2;  // 0..1
};

// For ferry::Connect.
struct ConnectOptions {
  // Bound on connecting and the handshake.
  std::chrono::milliseconds connect_timeout{5000};
  // Shared memory: how long building a request may wait for a free slot. Past it the request
  // is built in private memory and copied into a slot when it is sent, waiting for one by the
  // call's deadline (the copy is counted in bytes_copied). A call never fails for want of a
  // slot while its deadline allows waiting; only a message larger than the largest slot fails
  // (RESOURCE_EXHAUSTED).
  std::chrono::milliseconds slot_wait{10};
  // Shared memory: a caller waiting for its reply (or stream message) spins for as long as it
  // waits instead of sleeping, for the lowest latency at the cost of a CPU per waiting thread.
  // By default a waiter spins briefly (about 20 us) only while replies have been coming that
  // soon, and otherwise sleeps (see docs/design-notes.md, "Spinning").
  bool busy_poll = false;
  // unix:// and tcp://: move to shared memory when the server is on the same host (same boot
  // id and network namespace) and the same user, and offers it. False stays on the socket.
  bool allow_shm = true;
  // unix://, tcp://, mq://: the largest request this client sends; larger ones fail with
  // RESOURCE_EXHAUSTED before anything is sent (the server's own limit applies too).
  uint64_t max_message_bytes = 32 * 1024 * 1024;
  // unix:// and tcp://: a frame that has begun (a request going out, a reply coming in) must
  // be whole within frame_timeout plus its size at min_frame_bytes_per_second, else the
  // connection closes and its calls fail with UNAVAILABLE. A call's deadline never cuts a frame
  // short (that would end every other call on the connection): a request it finds partly sent
  // is finished by the connection after the call has returned DEADLINE_EXCEEDED, and a reply
  // that has begun to arrive is read to its end. Zero frame_timeout: no limit.
  std::chrono::milliseconds frame_timeout{10000};
  uint64_t min_frame_bytes_per_second = 1024 * 1024;
  // Calls (unary, async, streams) open at once on the channel; see
  // CallOptions::wait_for_capacity. (On shared memory a full ring also makes a sender wait:
  // ShmOptions::max_calls_in_flight.)
  uint32_t max_calls_in_flight = 4096;
  // How far the server may write ahead of this client's reading, per stream.
  StreamWindow stream_window;
  // Run around every call made on the channel, the first outermost (see ClientInterceptor).
  std::vector<ClientInterceptor> interceptors;
  // Connecting again after the connection was lost (a server restart).
  ReconnectOptions reconnect;
};

// For ferry::Server.
struct ServerOptions {
  ShmOptions shm;
  // shm:// connections (and clients moved to shared memory) are served by one pool of worker
  // threads for the whole server, whatever the number of connections: a worker reads a
  // connection, runs its unary handlers inline and replies, and serves another connection
  // when this one has nothing more. While every worker runs a handler, one more thread joins
  // (up to max_worker_threads), so handlers that block do not stop the others; threads beyond
  // worker_threads leave after 5 s without work. 0: one per CPU (at least 2); 4 per CPU.
  uint32_t worker_threads = 0;
  uint32_t max_worker_threads = 0;
  // unix://, tcp:// and mq://: threads that run handlers for each connection: calls from one
  // client run concurrently up to this many. They also take turns reading the connection, so
  // while all of them run handlers the server reads nothing more from that client (which
  // pushes back on it).
  uint32_t workers_per_connection = 2;
  // Connections the server holds at once, established or still in their handshake. A client
  // that connects while the server is full is refused with RESOURCE_EXHAUSTED, unless a
  // connection has been in its handshake for over 100 ms: the oldest such one is then dropped
  // to make room (so peers that connect and say nothing cannot keep clients out).
  // Why 1024: an idle connection, measured with the default options, costs the server no
  // thread, 2 descriptors and about 63 KiB RSS on shm (1,000 clients: 67 MB, 6 threads);
  // 2 threads, 7 descriptors and 30 KiB on unix and tcp; 4 threads, 5 descriptors and 264 KiB
  // on mq. 1024 shm connections thus need about 2,100 descriptors, and over unix or tcp about
  // 2,000 threads and 7,200 descriptors: raise RLIMIT_NOFILE past the common 1024 (past it
  // accept fails and clients wait in the backlog).
  uint32_t max_connections = 1024;
  // Connections still in their handshake (connected, not yet established). When a client
  // connects while this many are pending, the oldest pending one is dropped to make room.
  uint32_t max_pending_handshakes = 64;
  // Connections per peer uid on the local transports (shm://, unix://, mq://, found with
  // SO_PEERCRED; tcp:// peers have no local uid and are not counted), established or pending.
  // Past it a client is refused with RESOURCE_EXHAUSTED. 0: no per-uid limit. A unix:// client
  // that moves to shared memory holds two connections for a moment.
  uint32_t max_connections_per_uid = 0;
  // A client that connects and does not finish the handshake in this time is dropped. Honest
  // clients finish in milliseconds; the bound is what a silent peer can hold a place for.
  std::chrono::milliseconds handshake_timeout{1000};
  // How long building a reply may wait for a free slot before it is built in private memory
  // and copied into a slot when sent (see ConnectOptions::slot_wait).
  std::chrono::milliseconds slot_wait{10};
  // Shared memory: a connection's reader spins for the next request for as long as it waits,
  // instead of sleeping when requests stop coming back to back (ConnectOptions::busy_poll).
  // It still leaves the CPU to the connection's own handlers while a call runs.
  bool busy_poll = false;
  // unix:// and tcp://: offer shared memory to clients on the same host and of the same user
  // (through a hidden rendezvous socket in the abstract socket namespace).
  bool allow_shm = true;
  // unix://, tcp://, mq://: the largest message (request or reply) accepted. A client frame
  // over it ends that client's connection; a reply over it fails with RESOURCE_EXHAUSTED.
  uint64_t max_message_bytes = 32 * 1024 * 1024;
  // unix://, tcp://: memory for the whole server's frames being received plus the buffers
  // its connections keep idle for reuse. A connection whose next frame does not fit stops
  // reading (its client's sends block) until memory frees, for at most that frame's time
  // (frame_timeout below), then is closed; idle buffers are given up first. Frames of 64 KiB
  // and up may use 7/8 of it (the rest keeps small calls going); a request larger than that
  // less 8 KiB of frame header is refused like one over max_message_bytes, and clients are
  // told the smaller limit. Not counted: replies while handlers build them (at most
  // workers_per_connection per connection). 0: no bound.
  uint64_t memory_budget_bytes = 256 * 1024 * 1024;
  // unix://, tcp://: a request frame that has begun to arrive must be whole within
  // frame_timeout plus its size at min_frame_bytes_per_second (a 32 MiB request: 10 s +
  // 32 s), else the connection is closed: a peer that trickles bytes cannot hold a
  // connection and its memory. Zero frame_timeout: no limit.
  std::chrono::milliseconds frame_timeout{10000};
  uint64_t min_frame_bytes_per_second = 1024 * 1024;
  // unix://, tcp://: a connection with no call in flight that sends nothing for this long is
  // closed. Zero (the default): idle connections are kept.
  std::chrono::milliseconds idle_timeout{0};
  // Streaming calls open at once per connection; past it a new stream is refused with
  // RESOURCE_EXHAUSTED. Each runs its handler on a thread of its own.
  uint32_t max_streams_per_connection = 32;
  // How far a client may write ahead of its handler's reading, per stream.
  StreamWindow stream_window;
  // Built-in services (idl/ferry/reflection.idl; the `ferry` tool speaks them), added with
  // the first Listen(). ferry.Reflection lists the services and methods, hands out their
  // schemas and the server's method_stats(): anyone who may connect learns what the server
  // serves. ferry.Health answers SERVING or NOT_SERVING per service (Server::SetServing).
  bool reflection = true;
  bool health = true;
};

}  // namespace ferry
